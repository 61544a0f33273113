using System.Text;

namespace Trulayer.Dashboard.Api;

/// <summary>One bucket of GET /v1/analytics/llm (also its totals): model calls of one group in one interval.</summary>
public sealed record UsageBucket(
    DateTimeOffset StartTime, string? Group, long Calls, long Errors, long InputTokens, long OutputTokens, long CacheReadTokens,
    long CacheCreationTokens, long ReasoningTokens, decimal? Cost, long? LatencyP50Nanos, long? LatencyP95Nanos, long? LatencyP99Nanos,
    long? TtftP50Nanos = null, long? TtftP95Nanos = null, long? TtftP99Nanos = null);

public sealed record UsageReport(
    DateTimeOffset From, DateTimeOffset To, string Interval, string? GroupBy, IReadOnlyList<UsageBucket> Buckets, UsageBucket Totals);

/// <summary>The usage filters, exactly the parameters GET /v1/analytics/llm takes.</summary>
public sealed record UsageQuery(DateTimeOffset From, DateTimeOffset To, string? GroupBy = null, string? Model = null, string? Service = null, string? UserId = null)
{
    public string ToQueryString()
    {
        var query = new StringBuilder();
        query.Append("from=").Append(Uri.EscapeDataString(From.ToString("O")));
        QueryString.Add(query, "to", To.ToString("O"));
        QueryString.Add(query, "group_by", GroupBy);
        QueryString.Add(query, "model", Model);
        QueryString.Add(query, "service", Service);
        QueryString.Add(query, "user_id", UserId);
        return query.ToString();
    }
}

/// <summary>/v1/analytics/llm: calls, tokens, cost, latency and time to first token of model calls over time, from the processor's rollups.</summary>
public sealed class AnalyticsClient(ApiHttp api)
{
    public Task<UsageReport> GetLlmUsageAsync(UsageQuery query, CancellationToken cancellationToken = default)
        => api.GetAsync<UsageReport>($"v1/analytics/llm?{query.ToQueryString()}", cancellationToken);
}
