using System.Collections.Frozen;
using OpenTelemetry.Proto.Common.V1;

namespace Trulayer.Otlp.GenAi;

/// <summary>What a span does, as the dashboard groups spans.</summary>
public enum SpanType
{
    Custom,

    /// <summary>A model call that generates (chat, text completion, generate content).</summary>
    Llm,
    Tool,
    Retrieval,
    Agent,

    /// <summary>A model call that embeds.</summary>
    Embedding,

    /// <summary>A workflow, chain or task that groups other steps.</summary>
    Chain,
    Reranker,
    Guardrail,
    Evaluator,
}

/// <summary>One row of <see cref="SpanTypeRules.Table"/>: <paramref name="Attribute"/> with <paramref name="Value"/> (any value when null) makes the span a <paramref name="Type"/>.</summary>
public sealed record SpanTypeRule(string Attribute, string? Value, SpanType Type);

/// <summary>
/// Decides a span's <see cref="SpanType"/> from its attributes with one table: the span takes the type of
/// the first row (in table order) that one of its attributes matches, whatever order they arrive in.
/// Explicit types first (<c>trulayer.span.type</c>, the 2Signal seed's <c>2signal.span.type</c>,
/// <c>openinference.span.kind</c>, <c>traceloop.span.kind</c>, <c>langfuse.observation.type</c>,
/// <c>gen_ai.operation.name</c>, the AI SDK's <c>ai.operationId</c>), compared in any case; an unknown value
/// is ignored. Then inference from what the span carries: a GenAI tool name; a model or token count (a
/// model call); any other <c>gen_ai.*</c> or <c>llm.*</c> attribute (except the ones any span of an agent
/// run may carry, <see cref="NotModelCall"/>); tool and RPC names; database attributes; otherwise CUSTOM.
/// </summary>
public static class SpanTypeRules
{
    public const string TrulayerSpanType = "trulayer.span.type";
    public const string TwoSignalSpanType = "2signal.span.type";

    /// <summary>Prefix rows: an attribute whose key starts with the row's attribute (without its '*').</summary>
    private const string Prefix = "*";

    public static IReadOnlyList<SpanTypeRule> Table { get; } =
    [
        .. Explicit(TrulayerSpanType),                                       // Trulayer's own
        .. Explicit(TwoSignalSpanType),                                      // the 2Signal seed's
        new("openinference.span.kind", "LLM", SpanType.Llm),                 // OpenInference span kinds
        new("openinference.span.kind", "EMBEDDING", SpanType.Embedding),
        new("openinference.span.kind", "CHAIN", SpanType.Chain),
        new("openinference.span.kind", "RETRIEVER", SpanType.Retrieval),
        new("openinference.span.kind", "RERANKER", SpanType.Reranker),
        new("openinference.span.kind", "TOOL", SpanType.Tool),
        new("openinference.span.kind", "AGENT", SpanType.Agent),
        new("openinference.span.kind", "GUARDRAIL", SpanType.Guardrail),
        new("openinference.span.kind", "EVALUATOR", SpanType.Evaluator),
        new("openinference.span.kind", "PROMPT", SpanType.Chain),
        new("traceloop.span.kind", "workflow", SpanType.Chain),              // OpenLLMetry span kinds
        new("traceloop.span.kind", "task", SpanType.Chain),
        new("traceloop.span.kind", "agent", SpanType.Agent),
        new("traceloop.span.kind", "tool", SpanType.Tool),
        new("langfuse.observation.type", "generation", SpanType.Llm),        // Langfuse observation types
        new("langfuse.observation.type", "embedding", SpanType.Embedding),
        new("langfuse.observation.type", "agent", SpanType.Agent),
        new("langfuse.observation.type", "tool", SpanType.Tool),
        new("langfuse.observation.type", "chain", SpanType.Chain),
        new("langfuse.observation.type", "retriever", SpanType.Retrieval),
        new("langfuse.observation.type", "evaluator", SpanType.Evaluator),
        new("langfuse.observation.type", "guardrail", SpanType.Guardrail),
        new("gen_ai.operation.name", "chat", SpanType.Llm),                  // semconv operation names
        new("gen_ai.operation.name", "text_completion", SpanType.Llm),
        new("gen_ai.operation.name", "generate_content", SpanType.Llm),
        new("gen_ai.operation.name", "embeddings", SpanType.Embedding),
        new("gen_ai.operation.name", "invoke_agent", SpanType.Agent),
        new("gen_ai.operation.name", "create_agent", SpanType.Agent),
        new("gen_ai.operation.name", "agent_step", SpanType.Agent),          // an agent's step: no model call of its own
        new("gen_ai.operation.name", "execute_tool", SpanType.Tool),
        new("gen_ai.operation.name", "invoke_workflow", SpanType.Chain),
        new("ai.operationId", "ai.generateText.doGenerate", SpanType.Llm),   // AI SDK: the model calls
        new("ai.operationId", "ai.streamText.doStream", SpanType.Llm),
        new("ai.operationId", "ai.generateObject.doGenerate", SpanType.Llm),
        new("ai.operationId", "ai.streamObject.doStream", SpanType.Llm),
        new("ai.operationId", "ai.embed.doEmbed", SpanType.Embedding),
        new("ai.operationId", "ai.embedMany.doEmbed", SpanType.Embedding),
        new("ai.operationId", "ai.toolCall", SpanType.Tool),
        new("ai.operationId", "ai.generateText", SpanType.Agent),            // AI SDK: the calls around them (steps, tools)
        new("ai.operationId", "ai.streamText", SpanType.Agent),
        new("ai.operationId", "ai.generateObject", SpanType.Agent),
        new("ai.operationId", "ai.streamObject", SpanType.Agent),
        new("ai.operationId", "ai.embed", SpanType.Chain),
        new("ai.operationId", "ai.embedMany", SpanType.Chain),
        new("gen_ai.tool.name", null, SpanType.Tool),                        // inference: a GenAI tool call
        new("gen_ai.request.model", null, SpanType.Llm),                     // inference: a model call
        new("gen_ai.response.model", null, SpanType.Llm),
        new("gen_ai.usage.input_tokens", null, SpanType.Llm),
        new("llm.model_name", null, SpanType.Llm),
        new("llm.token_count.prompt", null, SpanType.Llm),
        new("gen_ai." + Prefix, null, SpanType.Llm),                         // inference: other GenAI attributes
        new("llm." + Prefix, null, SpanType.Llm),
        new("tool.name", null, SpanType.Tool),                               // inference: tools
        new("rpc.method", null, SpanType.Tool),
        new("db.system", null, SpanType.Retrieval),                          // inference: retrieval
        new("db.statement", null, SpanType.Retrieval),
    ];

    /// <summary>GenAI attributes any span of an agent run may carry: on their own they do not make a span a model call.</summary>
    public static IReadOnlySet<string> NotModelCall { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "gen_ai.conversation.id", "gen_ai.agent.name", "gen_ai.agent.id", "gen_ai.agent.description",
    };

    private static readonly FrozenDictionary<string, int> ByAttributeValue = Table
        .Select((row, rank) => (row, rank))
        .Where(r => r.row.Value is not null)
        .GroupBy(r => Key(r.row.Attribute, r.row.Value!))
        .ToFrozenDictionary(g => g.Key, g => g.Min(r => r.rank), StringComparer.Ordinal);

    private static readonly FrozenSet<string> ExplicitAttributes = Table
        .Where(r => r.Value is not null).Select(r => r.Attribute).ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, int> ByAttribute = Table
        .Select((row, rank) => (row, rank))
        .Where(r => r.row.Value is null && !r.row.Attribute.EndsWith(Prefix, StringComparison.Ordinal))
        .ToFrozenDictionary(r => r.row.Attribute, r => r.rank, StringComparer.Ordinal);

    private static readonly (string Prefix, int Rank)[] Prefixes =
    [
        .. Table.Select((row, rank) => (row, rank))
            .Where(r => r.row.Attribute.EndsWith(Prefix, StringComparison.Ordinal))
            .Select(r => (r.row.Attribute[..^1], r.rank)),
    ];

    /// <summary>The attribute keys the table names exactly (the others are prefixes).</summary>
    public static IEnumerable<string> Attributes => Table.Select(r => r.Attribute).Where(a => !a.EndsWith(Prefix, StringComparison.Ordinal)).Distinct();

    public static SpanType Infer(IReadOnlyList<KeyValue> attributes)
    {
        var best = int.MaxValue;
        for (var i = 0; i < attributes.Count; i++)
        {
            var key = attributes[i].Key;
            var value = attributes[i].Value;
            if (value is { ValueCase: AnyValue.ValueOneofCase.StringValue }
                && ExplicitAttributes.Contains(key)
                && ByAttributeValue.TryGetValue(Key(key, value.StringValue.Trim()), out var exact))
            {
                best = Math.Min(best, exact);
            }

            if (ByAttribute.TryGetValue(key, out var present))
            {
                best = Math.Min(best, present);
            }
            else if (!NotModelCall.Contains(key))
            {
                foreach (var (prefix, rank) in Prefixes)
                {
                    if (rank < best && key.StartsWith(prefix, StringComparison.Ordinal) && !IsExplicit(key))
                    {
                        best = rank;
                    }
                }
            }
        }

        return best == int.MaxValue ? SpanType.Custom : Table[best].Type;
    }

    /// <summary>The stored spelling: LLM, TOOL, RETRIEVAL, AGENT, EMBEDDING, CHAIN, RERANKER, GUARDRAIL, EVALUATOR, CUSTOM.</summary>
    public static string ToColumn(this SpanType type) => type switch
    {
        SpanType.Llm => "LLM",
        SpanType.Tool => "TOOL",
        SpanType.Retrieval => "RETRIEVAL",
        SpanType.Agent => "AGENT",
        SpanType.Embedding => "EMBEDDING",
        SpanType.Chain => "CHAIN",
        SpanType.Reranker => "RERANKER",
        SpanType.Guardrail => "GUARDRAIL",
        SpanType.Evaluator => "EVALUATOR",
        _ => "CUSTOM",
    };

    /// <summary>Whether spans of this type are model calls, the only spans whose usage and cost count toward totals.</summary>
    public static bool IsModelCall(this SpanType type) => type is SpanType.Llm or SpanType.Embedding;

    /// <summary>
    /// A gen_ai.operation.name the table does not know still names an operation: it must not make the span
    /// an LLM by the prefix rule (an <c>agent_step</c>-like step has no model call of its own).
    /// </summary>
    private static bool IsExplicit(string key) => key == "gen_ai.operation.name";

    private static IEnumerable<SpanTypeRule> Explicit(string attribute)
        => Enum.GetValues<SpanType>().Select(type => new SpanTypeRule(attribute, type.ToColumn(), type));

    private static string Key(string attribute, string value) => attribute + "=" + value.ToUpperInvariant();
}
