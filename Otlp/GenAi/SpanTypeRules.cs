using OpenTelemetry.Proto.Common.V1;

namespace Trulayer.Otlp.GenAi;

/// <summary>What a span does, as the dashboard groups spans.</summary>
public enum SpanType
{
    Custom,
    Llm,
    Tool,
    Retrieval,
    Agent,
}

/// <summary>
/// Infers a span's <see cref="SpanType"/> from its attributes. The rules, first match wins:
/// <list type="number">
/// <item><c>trulayer.span.type</c>, then <c>2signal.span.type</c>: LLM, TOOL, RETRIEVAL, AGENT or CUSTOM
/// (any case); another value is ignored.</item>
/// <item><c>gen_ai.operation.name</c> = <c>invoke_agent</c> or <c>create_agent</c>: AGENT. Agent spans carry
/// gen_ai.* attributes too, so this comes before the LLM rule, or no span could ever be an AGENT.</item>
/// <item><c>gen_ai.tool.name</c>: TOOL. Likewise a gen_ai.* attribute, so before the LLM rule.</item>
/// <item>any <c>gen_ai.*</c> or <c>llm.*</c> attribute: LLM.</item>
/// <item><c>tool.name</c> or <c>rpc.method</c>: TOOL.</item>
/// <item><c>db.system</c> or <c>db.statement</c>: RETRIEVAL.</item>
/// <item>otherwise CUSTOM.</item>
/// </list>
/// </summary>
public static class SpanTypeRules
{
    public const string TrulayerSpanType = "trulayer.span.type";
    public const string TwoSignalSpanType = "2signal.span.type";

    public static SpanType Infer(IReadOnlyList<KeyValue> attributes)
    {
        SpanType? trulayer = null, twoSignal = null;
        bool agent = false, genAiTool = false, genAiOrLlm = false, tool = false, retrieval = false;
        for (var i = 0; i < attributes.Count; i++)
        {
            var key = attributes[i].Key;
            var value = attributes[i].Value;
            switch (key)
            {
                case TrulayerSpanType:
                    trulayer ??= Parse(value);
                    continue;
                case TwoSignalSpanType:
                    twoSignal ??= Parse(value);
                    continue;
                case "gen_ai.operation.name":
                    agent |= value?.StringValue is "invoke_agent" or "create_agent";
                    break;
                case "gen_ai.tool.name":
                    genAiTool = true;
                    break;
                case "tool.name" or "rpc.method":
                    tool = true;
                    continue;
                case "db.system" or "db.statement":
                    retrieval = true;
                    continue;
            }

            genAiOrLlm |= key.StartsWith("gen_ai.", StringComparison.Ordinal) || key.StartsWith("llm.", StringComparison.Ordinal);
        }

        return trulayer ?? twoSignal
               ?? (agent ? SpanType.Agent
                   : genAiTool ? SpanType.Tool
                   : genAiOrLlm ? SpanType.Llm
                   : tool ? SpanType.Tool
                   : retrieval ? SpanType.Retrieval
                   : SpanType.Custom);
    }

    /// <summary>The stored spelling: LLM, TOOL, RETRIEVAL, AGENT, CUSTOM.</summary>
    public static string ToColumn(this SpanType type) => type switch
    {
        SpanType.Llm => "LLM",
        SpanType.Tool => "TOOL",
        SpanType.Retrieval => "RETRIEVAL",
        SpanType.Agent => "AGENT",
        _ => "CUSTOM",
    };

    private static SpanType? Parse(AnyValue? value)
    {
        if (value is not { ValueCase: AnyValue.ValueOneofCase.StringValue })
        {
            return null;
        }

        return value.StringValue.Trim().ToUpperInvariant() switch
        {
            "LLM" => SpanType.Llm,
            "TOOL" => SpanType.Tool,
            "RETRIEVAL" => SpanType.Retrieval,
            "AGENT" => SpanType.Agent,
            "CUSTOM" => SpanType.Custom,
            _ => null,
        };
    }
}
