using System.Collections.Frozen;

namespace Trulayer.Otlp.GenAi;

/// <summary>A promoted column of an LLM span, filled from span attributes.</summary>
public enum GenAiField
{
    LlmSystem,
    RequestModel,
    ResponseModel,
    InputTokens,
    OutputTokens,
    CacheReadTokens,
    CacheCreationTokens,
    ReasoningTokens,
    Cost,
    InputText,
    OutputText,
}

/// <summary>Where an attribute name comes from.</summary>
public enum GenAiConvention
{
    /// <summary>The OpenTelemetry GenAI semantic conventions as they stand now.</summary>
    SemConv,

    /// <summary>Names the GenAI conventions used before (v1.27 and earlier) or SDKs still send.</summary>
    SemConvLegacy,

    /// <summary>Arize OpenInference, the fallback.</summary>
    OpenInference,
}

/// <summary>One row of the precedence table: <paramref name="Attribute"/> fills <paramref name="Field"/>.</summary>
public sealed record GenAiSource(GenAiField Field, string Attribute, GenAiConvention Convention);

/// <summary>
/// The one table that decides which attribute fills which promoted column. For each field the rows are
/// in precedence order: the first attribute that is present on the span with a usable value wins,
/// whatever order the attributes arrive in. Current semantic conventions first, then the names older
/// conventions and SDKs use, then OpenInference.
/// </summary>
public static class GenAiPrecedence
{
    public static IReadOnlyList<GenAiSource> Table { get; } =
    [
        // gen_ai.system was renamed gen_ai.provider.name in semconv v1.37.
        new(GenAiField.LlmSystem, "gen_ai.provider.name", GenAiConvention.SemConv),
        new(GenAiField.LlmSystem, "gen_ai.system", GenAiConvention.SemConvLegacy),
        new(GenAiField.LlmSystem, "llm.system", GenAiConvention.OpenInference),
        new(GenAiField.LlmSystem, "llm.provider", GenAiConvention.OpenInference),

        new(GenAiField.RequestModel, "gen_ai.request.model", GenAiConvention.SemConv),
        new(GenAiField.RequestModel, "llm.request.model_name", GenAiConvention.OpenInference),
        new(GenAiField.RequestModel, "llm.model_name", GenAiConvention.OpenInference),

        new(GenAiField.ResponseModel, "gen_ai.response.model", GenAiConvention.SemConv),
        new(GenAiField.ResponseModel, "llm.response.model_name", GenAiConvention.OpenInference),

        new(GenAiField.InputTokens, "gen_ai.usage.input_tokens", GenAiConvention.SemConv),
        new(GenAiField.InputTokens, "gen_ai.usage.prompt_tokens", GenAiConvention.SemConvLegacy),
        new(GenAiField.InputTokens, "llm.token_count.prompt", GenAiConvention.OpenInference),

        new(GenAiField.OutputTokens, "gen_ai.usage.output_tokens", GenAiConvention.SemConv),
        new(GenAiField.OutputTokens, "gen_ai.usage.completion_tokens", GenAiConvention.SemConvLegacy),
        new(GenAiField.OutputTokens, "llm.token_count.completion", GenAiConvention.OpenInference),

        // The dotted spelling is semconv's; the underscore one is Anthropic's field name, which SDKs copied.
        new(GenAiField.CacheReadTokens, "gen_ai.usage.cache_read.input_tokens", GenAiConvention.SemConv),
        new(GenAiField.CacheReadTokens, "gen_ai.usage.cache_read_input_tokens", GenAiConvention.SemConvLegacy),
        new(GenAiField.CacheReadTokens, "llm.token_count.prompt_details.cache_read", GenAiConvention.OpenInference),

        new(GenAiField.CacheCreationTokens, "gen_ai.usage.cache_creation.input_tokens", GenAiConvention.SemConv),
        new(GenAiField.CacheCreationTokens, "gen_ai.usage.cache_creation_input_tokens", GenAiConvention.SemConvLegacy),
        new(GenAiField.CacheCreationTokens, "llm.token_count.prompt_details.cache_write", GenAiConvention.OpenInference),

        new(GenAiField.ReasoningTokens, "gen_ai.usage.reasoning.output_tokens", GenAiConvention.SemConv),
        new(GenAiField.ReasoningTokens, "llm.token_count.completion_details.reasoning", GenAiConvention.OpenInference),

        // A cost in currency units (USD by convention), stored as micro-units.
        new(GenAiField.Cost, "gen_ai.usage.cost", GenAiConvention.SemConvLegacy),
        new(GenAiField.Cost, "llm.cost.total", GenAiConvention.OpenInference),

        // gen_ai.prompt / gen_ai.completion were replaced by the structured messages in semconv v1.37.
        new(GenAiField.InputText, "gen_ai.input.messages", GenAiConvention.SemConv),
        new(GenAiField.InputText, "gen_ai.prompt", GenAiConvention.SemConvLegacy),
        new(GenAiField.InputText, "input.value", GenAiConvention.OpenInference),

        new(GenAiField.OutputText, "gen_ai.output.messages", GenAiConvention.SemConv),
        new(GenAiField.OutputText, "gen_ai.completion", GenAiConvention.SemConvLegacy),
        new(GenAiField.OutputText, "output.value", GenAiConvention.OpenInference),
    ];

    /// <summary>Each attribute of the table with its field and its rank within the field (0 wins).</summary>
    internal static FrozenDictionary<string, (GenAiField Field, int Rank)> ByAttribute { get; } = Table
        .Select(row => (row.Attribute, row.Field, Rank: Table.Where(r => r.Field == row.Field).ToList().IndexOf(row)))
        .ToFrozenDictionary(r => r.Attribute, r => (r.Field, r.Rank), StringComparer.Ordinal);

    /// <summary>The attributes, in precedence order, that fill <paramref name="field"/>.</summary>
    public static IReadOnlyList<string> For(GenAiField field) => [.. Table.Where(r => r.Field == field).Select(r => r.Attribute)];

    /// <summary>Whether <paramref name="attribute"/> carries prompt or completion content (InputText/OutputText).</summary>
    public static bool IsContent(string attribute)
        => ByAttribute.TryGetValue(attribute, out var entry) && entry.Field is GenAiField.InputText or GenAiField.OutputText;
}
