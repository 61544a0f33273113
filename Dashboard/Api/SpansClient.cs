using System.Text;

namespace Trulayer.Dashboard.Api;

/// <summary>One row of GET /v1/spans: a span's promoted fields, its input and output cut to 1,000 characters.</summary>
public sealed record SpanSummary(
    string TraceId, string SpanId, string ProjectId, string Name, string? Type, DateTimeOffset StartTime, long DurationNanos,
    string? Service, string? Provider, string? RequestModel, string? ResponseModel, long? InputTokens, long? OutputTokens,
    decimal? Cost, string Status, string? StatusMessage, string? Input, string? Output);

public sealed record SpanList(IReadOnlyList<SpanSummary> Spans);

/// <summary>The span search's filters, exactly the parameters GET /v1/spans takes (from and to are required).</summary>
public sealed record SpanQuery(
    DateTimeOffset From, DateTimeOffset To, string? Type = null, string? Model = null, string? Provider = null, string? Service = null,
    string? Status = null, string? Text = null, int Limit = 50)
{
    public string ToQueryString(string? cursor)
    {
        var query = new StringBuilder($"limit={Limit}");
        QueryString.Add(query, "from", From.ToString("O"));
        QueryString.Add(query, "to", To.ToString("O"));
        QueryString.Add(query, "type", Type);
        QueryString.Add(query, "model", Model);
        QueryString.Add(query, "provider", Provider);
        QueryString.Add(query, "service", Service);
        QueryString.Add(query, "status", Status);
        QueryString.Add(query, "q", Text);
        QueryString.Add(query, "cursor", cursor);
        return query.ToString();
    }
}

/// <summary>/v1/spans, the span search.</summary>
public sealed class SpansClient(ApiHttp api)
{
    public Task<Page<SpanSummary>> SearchAsync(SpanQuery query, string? cursor, CancellationToken cancellationToken = default)
        => api.GetPageAsync<SpanList, SpanSummary>($"v1/spans?{query.ToQueryString(cursor)}", list => list.Spans, cancellationToken);
}
