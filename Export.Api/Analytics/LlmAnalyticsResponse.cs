using System.Globalization;
using Trulayer.Export.Http;
using Trulayer.Otlp.Analytics;
using Trulayer.Otlp;

namespace Trulayer.Export.Analytics;

/// <summary>
/// Usage of one bucket of one group, or of the whole window (<see cref="LlmAnalyticsResponse.Totals"/>,
/// where the time fields are the window's and <see cref="Group"/> is null): model calls (LLM and EMBEDDING
/// spans), errors, every token kind, cost in currency units, latency quantiles in nanoseconds
/// (within <see cref="LatencySketch.RelativeError"/> of the exact value; null without calls), and the same
/// quantiles of the time to first token of the calls that carried one (null when none did).
/// </summary>
internal sealed record UsagePoint(
    string StartTime,
    string StartTimeUnixNano,
    string? Group,
    long Calls,
    long Errors,
    long InputTokens,
    long OutputTokens,
    long CacheReadTokens,
    long CacheCreationTokens,
    long ReasoningTokens,
    decimal Cost,
    long? LatencyP50Nanos,
    long? LatencyP95Nanos,
    long? LatencyP99Nanos,
    long? TtftP50Nanos,
    long? TtftP95Nanos,
    long? TtftP99Nanos)
{
    public static UsagePoint Of(long startUnixNanos, string? group, UsageSums sums) => new(
        Rfc3339.Format(startUnixNanos),
        startUnixNanos.ToString(CultureInfo.InvariantCulture),
        group,
        sums.Calls,
        sums.Errors,
        sums.InputTokens,
        sums.OutputTokens,
        sums.CacheReadTokens,
        sums.CacheCreationTokens,
        sums.ReasoningTokens,
        sums.CostMicros / 1_000_000m,
        sums.LatencyNanos(0.50),
        sums.LatencyNanos(0.95),
        sums.LatencyNanos(0.99),
        sums.TimeToFirstTokenNanos(0.50),
        sums.TimeToFirstTokenNanos(0.95),
        sums.TimeToFirstTokenNanos(0.99));
}

/// <summary>
/// GET /v1/analytics/llm's answer: the window as widened to whole buckets, the bucket width, what the
/// buckets are grouped by (null: not grouped), the non-empty buckets oldest first (then by group), and the
/// window's totals with the same fields.
/// </summary>
internal sealed record LlmAnalyticsResponse(
    string From,
    string FromUnixNano,
    string To,
    string ToUnixNano,
    string Interval,
    string? GroupBy,
    double LatencyRelativeError,
    IReadOnlyList<UsagePoint> Buckets,
    UsagePoint Totals);
