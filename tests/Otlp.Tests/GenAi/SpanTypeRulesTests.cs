using OpenTelemetry.Proto.Common.V1;
using Trulayer.Otlp.GenAi;

namespace Trulayer.Otlp.Tests.GenAi;

public sealed class SpanTypeRulesTests
{
    [Theory]
    // 1. Explicit types first, any case; trulayer's before the seeds' 2signal; unknown values ignored.
    [InlineData(SpanType.Tool, "trulayer.span.type=tool", "gen_ai.system=openai")]
    [InlineData(SpanType.Agent, "2signal.span.type=AGENT", "db.system=postgresql")]
    [InlineData(SpanType.Retrieval, "trulayer.span.type=RETRIEVAL", "2signal.span.type=LLM")]
    [InlineData(SpanType.Llm, "2signal.span.type=LLM", "trulayer.span.type=BOGUS")]
    [InlineData(SpanType.Custom, "trulayer.span.type=custom", "gen_ai.operation.name=invoke_agent")]
    [InlineData(SpanType.Tool, "2signal.span.type=unknown", "tool.name=search")]
    // 2. Agent operations, though they carry gen_ai.* attributes.
    [InlineData(SpanType.Agent, "gen_ai.operation.name=invoke_agent", "gen_ai.system=openai")]
    [InlineData(SpanType.Agent, "gen_ai.operation.name=create_agent")]
    [InlineData(SpanType.Agent, "gen_ai.tool.name=search", "gen_ai.operation.name=invoke_agent")]
    // 3. A GenAI tool call, though it is a gen_ai.* attribute.
    [InlineData(SpanType.Tool, "gen_ai.tool.name=get_weather", "gen_ai.operation.name=execute_tool")]
    // 4. Any gen_ai.* or llm.* attribute.
    [InlineData(SpanType.Llm, "gen_ai.operation.name=chat")]
    [InlineData(SpanType.Llm, "gen_ai.usage.input_tokens=3", "rpc.method=Complete")]
    [InlineData(SpanType.Llm, "llm.model_name=gpt-4o", "db.statement=SELECT 1")]
    // 5. Tools.
    [InlineData(SpanType.Tool, "tool.name=calculator")]
    [InlineData(SpanType.Tool, "rpc.method=GetUser", "db.system=redis")]
    // 6. Retrieval.
    [InlineData(SpanType.Retrieval, "db.system=postgresql")]
    [InlineData(SpanType.Retrieval, "db.statement=SELECT 1")]
    // 7. Everything else.
    [InlineData(SpanType.Custom, "http.route=/v1/chat")]
    [InlineData(SpanType.Custom, "genai.system=typo", "llmx=1")]
    [InlineData(SpanType.Custom)]
    // An agent step (or any operation the table does not know) is not a model call.
    [InlineData(SpanType.Agent, "gen_ai.operation.name=agent_step", "gen_ai.agent.name=planner")]
    [InlineData(SpanType.Custom, "gen_ai.operation.name=plan", "gen_ai.conversation.id=c1")]
    // Attributes any span of an agent run carries do not make it a model call either.
    [InlineData(SpanType.Custom, "gen_ai.conversation.id=c1", "gen_ai.agent.name=planner")]
    // The AI SDK: the outer call is the agent, its doGenerate the model call.
    [InlineData(SpanType.Agent, "ai.operationId=ai.generateText", "ai.model.id=gpt-4o", "gen_ai.request.model=gpt-4o")]
    [InlineData(SpanType.Llm, "ai.operationId=ai.generateText.doGenerate", "gen_ai.request.model=gpt-4o")]
    [InlineData(SpanType.Embedding, "ai.operationId=ai.embed.doEmbed", "gen_ai.request.model=text-embedding-3-small")]
    // OpenInference and OpenLLMetry kinds win over what the span carries.
    [InlineData(SpanType.Chain, "openinference.span.kind=CHAIN", "llm.model_name=gpt-4o")]
    [InlineData(SpanType.Chain, "traceloop.span.kind=workflow", "gen_ai.request.model=gpt-4o")]
    [InlineData(SpanType.Retrieval, "openinference.span.kind=RETRIEVER")]
    [InlineData(SpanType.Embedding, "gen_ai.operation.name=embeddings", "gen_ai.request.model=text-embedding-3-small")]
    public void Infer_FollowsTheRuleTable(SpanType expected, params string[] attributes)
    {
        var keyValues = attributes.Select(a => a.Split('=', 2)).Select(p => new KeyValue { Key = p[0], Value = new AnyValue { StringValue = p[1] } }).ToList();

        Assert.Equal(expected, SpanTypeRules.Infer(keyValues));
        keyValues.Reverse();
        Assert.Equal(expected, SpanTypeRules.Infer(keyValues));
    }

    public static TheoryData<int> TableRows() => [.. Enumerable.Range(0, SpanTypeRules.Table.Count)];

    [Theory]
    [MemberData(nameof(TableRows))]
    public void Infer_EachRowAlone_GivesItsType(int index)
    {
        var row = SpanTypeRules.Table[index];
        var key = row.Attribute.EndsWith('*') ? row.Attribute[..^1] + "request.temperature" : row.Attribute;
        var value = row.Value is null ? "x" : index % 2 == 0 ? row.Value.ToLowerInvariant() : row.Value;

        Assert.Equal(row.Type, SpanTypeRules.Infer([new KeyValue { Key = key, Value = new AnyValue { StringValue = value } }]));
    }

    [Theory]
    [MemberData(nameof(TableRows))]
    public void Infer_EveryEarlierRowBeatsThisOne_InEitherOrder(int index)
    {
        var row = SpanTypeRules.Table[index];
        KeyValue Of(SpanTypeRule r) => new()
        {
            Key = r.Attribute.EndsWith('*') ? r.Attribute[..^1] + "request.temperature" : r.Attribute,
            Value = new AnyValue { StringValue = r.Value ?? "x" },
        };

        foreach (var better in SpanTypeRules.Table.Take(index).Where(b => b.Attribute != row.Attribute))
        {
            Assert.Equal(better.Type, SpanTypeRules.Infer([Of(row), Of(better)]));
            Assert.Equal(better.Type, SpanTypeRules.Infer([Of(better), Of(row)]));
        }
    }

    [Fact]
    public void IsModelCall_OnlyLlmAndEmbedding()
        => Assert.Equal([SpanType.Llm, SpanType.Embedding], Enum.GetValues<SpanType>().Where(t => t.IsModelCall()));

    [Fact]
    public void Infer_ExplicitTypeThatIsNotAString_IsIgnored()
    {
        var attributes = new[] { new KeyValue { Key = "trulayer.span.type", Value = new AnyValue { IntValue = 1 } }, new KeyValue { Key = "tool.name", Value = new AnyValue { StringValue = "x" } } };

        Assert.Equal(SpanType.Tool, SpanTypeRules.Infer(attributes));
    }

    [Theory]
    [InlineData(SpanType.Llm, "LLM")]
    [InlineData(SpanType.Tool, "TOOL")]
    [InlineData(SpanType.Retrieval, "RETRIEVAL")]
    [InlineData(SpanType.Agent, "AGENT")]
    [InlineData(SpanType.Custom, "CUSTOM")]
    [InlineData(SpanType.Embedding, "EMBEDDING")]
    [InlineData(SpanType.Chain, "CHAIN")]
    [InlineData(SpanType.Reranker, "RERANKER")]
    [InlineData(SpanType.Guardrail, "GUARDRAIL")]
    [InlineData(SpanType.Evaluator, "EVALUATOR")]
    public void ToColumn_IsTheStoredSpelling(SpanType type, string column) => Assert.Equal(column, type.ToColumn());
}
