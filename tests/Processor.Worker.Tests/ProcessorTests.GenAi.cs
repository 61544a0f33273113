using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Processor.Pricing;
using static Trulayer.Processor.Tests.TestSpans;

namespace Trulayer.Processor.Tests;

/// <summary>The GenAI columns as stored: usage counted once, sessions and users, cost and where it came from.</summary>
public sealed partial class ProcessorTests
{
    [Fact]
    public async Task NestedAgents_AiSdkUsageOnTheAgentAndOnEachModelCall_CountedOnce()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var t0 = new DateTimeOffset(2025, 5, 6, 12, 0, 0, TimeSpan.Zero);
        // The AI SDK's outer call reports the usage of all its steps; each step's model call reports its own.
        var outer = Span(trace, "ai.generateText", t0, TimeSpan.FromSeconds(5), null,
            Str("ai.operationId", "ai.generateText"), Str("ai.model.provider", "openai.chat"), Str("ai.model.id", "gpt-4o-mini"),
            Int("ai.usage.promptTokens", 300), Int("ai.usage.completionTokens", 30), Str("ai.telemetry.metadata.sessionId", "chat-42"),
            Str("ai.telemetry.metadata.userId", "ada"), Str("ai.prompt", """{"prompt":"Weather in Paris?"}"""));
        // The current AI SDK: an invoke_agent span under it, with usage again.
        var agent = Span(trace, "invoke_agent weather", t0.AddMilliseconds(1), TimeSpan.FromSeconds(4), outer.SpanId,
            Str("gen_ai.operation.name", "invoke_agent"), Str("gen_ai.provider.name", "openai"), Str("gen_ai.request.model", "gpt-4o-mini"),
            Int("gen_ai.usage.input_tokens", 300), Int("gen_ai.usage.output_tokens", 30));
        OpenTelemetry.Proto.Trace.V1.Span Step(int n, long input, long output) => Span(trace, "ai.generateText.doGenerate", t0.AddSeconds(n), TimeSpan.FromSeconds(1), agent.SpanId,
            Str("ai.operationId", "ai.generateText.doGenerate"), Str("ai.model.provider", "openai.chat"), Str("gen_ai.system", "openai.chat"),
            Str("gen_ai.request.model", "gpt-4o-mini"), Str("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
            Int("gen_ai.usage.input_tokens", input), Int("gen_ai.usage.output_tokens", output), Str("ai.response.text", "step " + n));
        var steps = new[] { Step(1, 100, 10), Step(2, 200, 20) };

        // Model calls first, the agents later: each model call counts once whatever the order.
        await Deliver(Record(project, trace, "app", steps));
        await Deliver(Record(project, trace, "app", outer, agent));

        var price = ModelPriceTable.Default.Find("openai", "gpt-4o-mini-2024-07-18", t0.UtcDateTime)!.Value.Price;
        var expectedCost = price.CostMicros(100, 10, null, null, null)!.Value + price.CostMicros(200, 20, null, null, null)!.Value;
        var row = await TraceRow(project, trace);
        Assert.Equal((300L, 30L, 4L), ((long)row["input_tokens"], (long)row["output_tokens"], (long)row["span_count"]));
        Assert.Equal((expectedCost, "computed"), ((long)row["cost_micros"], (string)row["cost_source"]));
        Assert.Equal(("chat-42", "ada", "ai.generateText"), ((string)row["session_id"], (string)row["user_id"], (string)row["name"]));

        // The agents keep the usage they report, on their own rows.
        Assert.Equal(2, await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}' AND span_type = 'AGENT' AND input_tokens = 300"));
        Assert.Equal(2, await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}' AND span_type = 'LLM' AND llm_system = 'openai' AND cost_source = 'computed'"));
        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}' AND session_id = 'chat-42' AND user_id = 'ada'"));
    }

    [Fact]
    public async Task Session_ALateRootChangesIt_TheTraceAndItsTotalsMoveToTheRootsSession()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var t0 = new DateTimeOffset(2025, 5, 6, 12, 0, 0, TimeSpan.Zero);
        var root = Span(trace, "conversation turn", t0, TimeSpan.FromSeconds(3), null, Str("session.id", "from-root"), Str("user.id", "grace"));
        var llm = Span(trace, "chat", t0.AddSeconds(1), TimeSpan.FromSeconds(1), root.SpanId,
            Str("gen_ai.operation.name", "chat"), Str("gen_ai.conversation.id", "from-child"), Str("gen_ai.request.model", "gpt-4o"),
            Int("gen_ai.usage.input_tokens", 70), Dbl("gen_ai.usage.cost", 0.5));

        await Deliver(Record(project, trace, "app", llm));
        var early = await TraceRow(project, trace);
        Assert.Equal(("from-child", "reported"), ((string)early["session_id"], (string)early["cost_source"]));

        await Deliver(Record(project, trace, "app", root));
        Assert.Equal(70, await Count($"SELECT coalesce(sum(input_tokens), 0) FROM telemetry.traces WHERE project_id = '{project}' AND session_id = 'from-root'"));
        Assert.Equal(500_000, await Count($"SELECT coalesce(sum(cost_micros), 0) FROM telemetry.traces WHERE project_id = '{project}' AND session_id = 'from-root' AND user_id = 'grace'"));
        Assert.Equal(0, await Count($"SELECT count(*) FROM telemetry.traces WHERE project_id = '{project}' AND session_id = 'from-child'"));
    }

    [Fact]
    public async Task Cost_ReportedComputedOrNone_IsStoredWithItsSource()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var t0 = DateTimeOffset.UtcNow;
        var reported = Span(trace, "chat a", t0, TimeSpan.FromSeconds(1), null,
            Str("gen_ai.request.model", "gpt-4o"), Int("gen_ai.usage.input_tokens", 1000), Dbl("gen_ai.usage.cost", 0.25));
        var computed = Span(trace, "chat b", t0, TimeSpan.FromSeconds(1), reported.SpanId,
            Str("gen_ai.provider.name", "anthropic"), Str("gen_ai.request.model", "claude-3-5-sonnet-20241022"),
            Int("gen_ai.usage.input_tokens", 1000), Int("gen_ai.usage.output_tokens", 100));
        var unknown = Span(trace, "chat c", t0, TimeSpan.FromSeconds(1), reported.SpanId,
            Str("gen_ai.request.model", "in-house-model-7"), Int("gen_ai.usage.input_tokens", 5));

        await Deliver(Record(project, trace, "app", reported, computed, unknown));

        // 1000 * 3 + 100 * 15 micro-USD at claude-3-5-sonnet's 3 and 15 USD per million tokens.
        Assert.Equal(250_000, await Count($"SELECT cost_micros FROM telemetry.spans WHERE project_id = '{project}' AND name = 'chat a' AND cost_source = 'reported'"));
        Assert.Equal(4_500, await Count($"SELECT cost_micros FROM telemetry.spans WHERE project_id = '{project}' AND name = 'chat b' AND cost_source = 'computed'"));
        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}' AND name = 'chat c' AND cost_source = 'none' AND cost_micros IS NULL"));
        var row = await TraceRow(project, trace);
        Assert.Equal((254_500L, "computed"), ((long)row["cost_micros"], (string)row["cost_source"]));
    }

    [Fact]
    public async Task SemconvV126ContentEvents_FillInputAndOutput()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var span = Span(trace, "chat", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), null, Str("gen_ai.system", "openai"), Str("gen_ai.request.model", "gpt-4o"));
        span.Events.Add(new OpenTelemetry.Proto.Trace.V1.Span.Types.Event { Name = "gen_ai.content.prompt", Attributes = { Str("gen_ai.prompt", """[{"role":"user","content":"Hi"}]""") } });
        span.Events.Add(new OpenTelemetry.Proto.Trace.V1.Span.Types.Event { Name = "gen_ai.content.completion", Attributes = { Str("gen_ai.completion", """[{"role":"assistant","content":"Hello"}]""") } });

        await Deliver(Record(project, trace, "app", span));

        Assert.Equal(1, await Count($$"""
            SELECT count(*) FROM telemetry.spans WHERE project_id = '{{project}}'
              AND input_text = '[{"role":"user","parts":[{"type":"text","content":"Hi"}]}]'
              AND output_text = '[{"role":"assistant","parts":[{"type":"text","content":"Hello"}]}]'
            """));
    }

    [Fact]
    public async Task PromptAndCompletionAttributes_AreStoredVerbatimWithTheirForm_AndCutOut()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var span = Span(trace, "chat", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), null,
            Str("gen_ai.system", "openai"), Str("gen_ai.prompt", "Hi"), Str("gen_ai.completion", "Hello"));

        await Deliver(Record(project, trace, "app", span));

        Assert.Equal(1, await Count($$"""
            SELECT count(*) FROM telemetry.spans WHERE project_id = '{{project}}'
              AND input_text = 'Hi' AND input_form = 'gen_ai.prompt' AND input_at IS NOT NULL
              AND output_text = 'Hello' AND output_form = 'gen_ai.completion' AND output_at IS NOT NULL
              AND octet_length(otlp) < span_size
            """));
    }
}
