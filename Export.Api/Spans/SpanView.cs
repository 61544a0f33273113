using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Npgsql;
using Trulayer.Export.Http;
using Trulayer.Otlp.GenAi;
using Trulayer.Otlp;

namespace Trulayer.Export.Spans;

/// <summary>
/// One span as the dashboard shows it: its promoted fields, and its normalized input and output (whole in a trace's
/// spans, a preview in the span search). Only <c>GET /v1/traces/{traceId}/spans</c> fills the OTLP parts
/// (<see cref="ResourceId"/>, <see cref="ScopeId"/>, <see cref="Attributes"/>, <see cref="Events"/>, <see cref="Links"/>);
/// only the span search fills <see cref="PreviewTruncated"/>.
/// </summary>
internal sealed record SpanView(
    string TraceId,
    string SpanId,
    string? ParentSpanId,
    Guid ProjectId,
    string Name,
    string Kind,
    string Type,
    string StartTime,
    string StartTimeUnixNano,
    string EndTimeUnixNano,
    long DurationNanos,
    long? TimeToFirstTokenNanos,
    string? Service,
    string? Provider,
    string? RequestModel,
    string? ResponseModel,
    long? InputTokens,
    long? OutputTokens,
    long? CacheReadTokens,
    long? CacheCreationTokens,
    long? ReasoningTokens,
    decimal? Cost,
    string? CostSource,
    string Status,
    string? StatusMessage,
    string? SessionId,
    string? UserId,
    string? Input,
    string? Output,
    bool TextTruncated,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? PreviewTruncated = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ResourceId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ScopeId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? Attributes = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? Events = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? Links = null);

/// <summary>Reads <see cref="SpanView"/>s from telemetry.spans rows: the columns to select and the reading of them.</summary>
internal static class SpanViews
{
    /// <summary>Characters of input and output the span search shows of each span.</summary>
    public const int PreviewChars = 1000;

    /// <summary>The promoted columns, after the key columns (project_id, start_time, trace_id, span_id) at ordinals 0 to 3.</summary>
    public const string Columns =
        "parent_span_id, name, kind, start_unix_nano, end_unix_nano, status_code, status_message, service_name, span_type, llm_system, " +
        "request_model, response_model, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, " +
        "cost_micros, cost_source, session_id, user_id, input_text AS input_plain, input_form, output_text AS output_plain, output_form, text_truncated, " +
        "time_to_first_token_nanos";

    /// <summary>
    /// <see cref="Columns"/> for a preview: text stored in its normalized form is cut in SQL already (a verbatim form is
    /// normalized first, which needs it whole).
    /// </summary>
    public static readonly string PreviewColumns = Columns
        .Replace("input_text AS input_plain", $"CASE WHEN input_form IS NULL THEN left(input_text, {PreviewChars + 1}) ELSE input_text END AS input_plain", StringComparison.Ordinal)
        .Replace("output_text AS output_plain", $"CASE WHEN output_form IS NULL THEN left(output_text, {PreviewChars + 1}) ELSE output_text END AS output_plain", StringComparison.Ordinal);

    /// <summary>The ordinal after <see cref="Columns"/>.</summary>
    public const int NextOrdinal = 4 + 27;

    private static readonly string[] KindNames = ["unspecified", "internal", "server", "client", "producer", "consumer"];

    /// <summary>The reader's current row as a span; <paramref name="preview"/> cuts input and output to <see cref="PreviewChars"/>.</summary>
    public static SpanView Read(NpgsqlDataReader reader, bool preview)
    {
        string? Text(int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
        long? Number(int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt64(ordinal);
        var start = reader.GetInt64(7);
        var end = reader.GetInt64(8);
        var kind = reader.GetInt16(6);
        long? parent = reader.IsDBNull(4) ? null : reader.GetInt64(4);
        var input = Content(GenAiField.InputText, Text(25), Text(26));
        var output = Content(GenAiField.OutputText, Text(27), Text(28));
        bool? cut = null;
        if (preview)
        {
            cut = input?.Length > PreviewChars || output?.Length > PreviewChars;
            input = Cut(input);
            output = Cut(output);
        }

        return new SpanView(
            reader.GetGuid(2).ToString("N"),
            SpanIdText(reader.GetInt64(3)),
            parent is { } p ? SpanIdText(p) : null,
            reader.GetGuid(0),
            reader.GetString(5),
            kind >= 0 && kind < KindNames.Length ? KindNames[kind] : kind.ToString(CultureInfo.InvariantCulture),
            reader.GetString(12),
            Rfc3339.Format(start),
            start.ToString(CultureInfo.InvariantCulture),
            end.ToString(CultureInfo.InvariantCulture),
            Math.Max(0, end - start),
            Number(30),
            Text(11),
            Text(13),
            Text(14),
            Text(15),
            Number(16),
            Number(17),
            Number(18),
            Number(19),
            Number(20),
            Number(21) is { } micros ? micros / 1_000_000m : null,
            Text(22),
            StatusName(reader.GetInt16(9)),
            Text(10),
            Text(23),
            Text(24),
            input,
            output,
            reader.GetBoolean(29),
            cut);
    }

    /// <summary>A span id as OTLP/JSON writes it: 16 lowercase hex digits of its 8 bytes.</summary>
    public static string SpanIdText(long spanId) => ((ulong)spanId).ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>The OTLP status code's name as the <c>status</c> parameter takes it.</summary>
    public static string StatusName(short code) => code switch
    {
        1 => "ok",
        2 => "error",
        _ => "unset",
    };

    /// <summary>
    /// The normalized content: the stored text, or, where the processor kept the value of <paramref name="form"/> verbatim,
    /// that value normalized (<see cref="GenAiContent.Normalize(GenAiField, string?, string)"/>); the verbatim value when it
    /// names a form this build does not know.
    /// </summary>
    public static string? Content(GenAiField field, string? text, string? form)
    {
        if (text is null)
        {
            return null;
        }

        try
        {
            return GenAiContent.Normalize(field, form, text);
        }
        catch (ArgumentException)
        {
            return text;
        }
    }

    private static string? Cut(string? text) => text is { Length: > PreviewChars } ? text[..PreviewChars] : text;
}
