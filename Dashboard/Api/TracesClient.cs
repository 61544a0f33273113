using System.Text;
using System.Text.Json;
using Trulayer.Dashboard.Model;

namespace Trulayer.Dashboard.Api;

/// <summary>One row of GET /v1/traces.</summary>
public sealed record TraceSummary(
    string TraceId, string ProjectId, string? Name, DateTimeOffset StartTime, long DurationNanos, int SpanCount,
    IReadOnlyList<string> Services, IReadOnlyList<string> Models, long? InputTokens, long? OutputTokens, decimal? Cost, bool HasError);

public sealed record TraceList(IReadOnlyList<TraceSummary> Traces);

/// <summary>
/// One span of GET /v1/traces/{traceId}/spans: its promoted fields (the GenAI mapping's, the cost the processor
/// computed and where it came from), its normalized input and output, and its OTLP parts as OTLP/JSON.
/// </summary>
public sealed record TraceSpan(
    string SpanId, string? ParentSpanId, string Name, string Kind, string? Type, string StartTimeUnixNano, string EndTimeUnixNano,
    long DurationNanos, string? Service, string? Provider, string? RequestModel, string? ResponseModel, long? InputTokens,
    long? OutputTokens, long? CacheReadTokens, long? CacheCreationTokens, long? ReasoningTokens, decimal? Cost, string? CostSource,
    string Status, string? StatusMessage, string? SessionId, string? UserId, string? Input, string? Output, bool TextTruncated,
    string? ResourceId, string? ScopeId, JsonElement? Attributes, JsonElement? Events, JsonElement? Links, long? TimeToFirstTokenNanos = null);

/// <summary>The trace list's filters, exactly the parameters GET /v1/traces takes.</summary>
public sealed record TraceQuery(
    string? ProjectId = null, DateTimeOffset? From = null, DateTimeOffset? To = null, string? Service = null,
    string? Model = null, string? Status = null, string? NamePrefix = null, int Limit = 50)
{
    public string ToQueryString(string? cursor)
    {
        var query = new StringBuilder($"limit={Limit}");
        QueryString.Add(query, "project_id", ProjectId);
        QueryString.Add(query, "from", From?.ToString("O"));
        QueryString.Add(query, "to", To?.ToString("O"));
        QueryString.Add(query, "service", Service);
        QueryString.Add(query, "model", Model);
        QueryString.Add(query, "status", Status);
        QueryString.Add(query, "q", NamePrefix);
        QueryString.Add(query, "cursor", cursor);
        return query.ToString();
    }
}

/// <summary>How a list's filters become query parameters: blank ones are left out, values escaped.</summary>
public static class QueryString
{
    public static void Add(StringBuilder query, string name, string? value)
    {
        if (!string.IsNullOrWhiteSpace(value))
        {
            query.Append('&').Append(name).Append('=').Append(Uri.EscapeDataString(value.Trim()));
        }
    }
}

/// <summary>/v1/traces (the list), /v1/traces/{traceId}/spans (one trace's spans) and /v1/traces/{traceId}/logs.</summary>
public sealed class TracesClient(ApiHttp api)
{
    public Task<Page<TraceSummary>> ListAsync(TraceQuery query, string? cursor, CancellationToken cancellationToken = default)
        => api.GetPageAsync<TraceList, TraceSummary>($"v1/traces?{query.ToQueryString(cursor)}", list => list.Traces, cancellationToken);

    public async Task<TraceView> GetAsync(string traceId, CancellationToken cancellationToken = default)
    {
        // Parsed once into a document the trace view keeps (not disposed): each span reads its fields from it.
        var document = await api.GetDocumentAsync($"v1/traces/{Uri.EscapeDataString(traceId)}/spans", cancellationToken);
        return TraceView.From(traceId, document);
    }

    public async Task<IReadOnlyList<LogView>> GetLogsAsync(string traceId, CancellationToken cancellationToken = default)
    {
        using var document = await api.GetDocumentAsync($"v1/traces/{Uri.EscapeDataString(traceId)}/logs", cancellationToken);
        return OtlpJson.ReadLogs(document.RootElement);
    }
}
