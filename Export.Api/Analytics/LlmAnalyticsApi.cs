using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Trulayer.Export.Http;
using Trulayer.Otlp.Analytics;
using Trulayer.Otlp;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Export.Analytics;

/// <summary>
/// <c>GET /v1/analytics/llm</c>: usage and cost of model calls over time, from the processor's rollups
/// (never a scan of the spans), for dashboard sessions, limited to the caller's projects like the trace list.
/// </summary>
public static class LlmAnalyticsApi
{
    public const string Path = "/v1/analytics/llm";

    public static IEndpointRouteBuilder MapLlmAnalyticsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, GetAsync).RequireAuthorization(ExportApi.PolicyName).WithQueryParameters(
            DocumentedParameters.From("Model calls that start", required: true, "; widened to whole buckets"),
            DocumentedParameters.To("Model calls that start", required: true, "; widened to whole buckets"),
            new(LlmAnalyticsQuery.IntervalParameter, $"The bucket width: {string.Join(", ", AnalyticsInterval.All.Select(i => i.Name))}; without it the finest that gives at most 360 buckets; at most {LlmAnalyticsQuery.MaxBuckets} buckets"),
            new(LlmAnalyticsQuery.GroupByParameter, $"What each bucket is grouped by: {string.Join(", ", LlmAnalyticsQuery.Groups.Keys)}; without it one series"),
            DocumentedParameters.ProjectId,
            new("model", "Model calls of this model (the response model, else the request model), exactly"),
            new("service", "Model calls of this service.name, exactly"),
            new("user_id", "Model calls of this user, exactly"));
        return app;
    }

    internal static async Task<Results<Ok<LlmAnalyticsResponse>, JsonHttpResult<ErrorResponse>>> GetAsync(
        HttpContext context, CallerIdentity caller, NpgsqlDataSource dataSource)
    {
        if (LlmAnalyticsQuery.TryParse(context.Request.Query, caller, out var query) is { } refusal)
        {
            return ExportApi.Refuse(refusal);
        }

        IReadOnlyList<UsageBucket> buckets;
        try
        {
            buckets = await new LlmAnalyticsStore(dataSource).ReadAsync(query, context.RequestAborted);
        }
        catch (NpgsqlException ex) when (ex.IsTransient)
        {
            return ExportApi.Unavailable(context);
        }

        var totals = new UsageSums();
        foreach (var bucket in buckets)
        {
            totals.Add(bucket.Sums);
        }

        var grouped = query.GroupBy != AnalyticsGroup.None;
        return TypedResults.Ok(new LlmAnalyticsResponse(
            Rfc3339.Format(query.FromUnixNanos),
            query.FromUnixNanos.ToString(CultureInfo.InvariantCulture),
            Rfc3339.Format(query.ToUnixNanos),
            query.ToUnixNanos.ToString(CultureInfo.InvariantCulture),
            query.Interval.Name,
            grouped ? LlmAnalyticsQuery.Groups.First(g => g.Value == query.GroupBy).Key : null,
            LatencySketch.RelativeError,
            [.. buckets.Select(b => UsagePoint.Of(b.StartUnixNanos, grouped && b.Group.Length > 0 ? b.Group : null, b.Sums))],
            UsagePoint.Of(query.FromUnixNanos, null, totals)));
    }
}
