using System.Globalization;
using Trulayer.Export.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Export.Analytics;

/// <summary>A bucket width of <c>interval</c> (DESIGN.md, "Query conventions").</summary>
internal sealed record AnalyticsInterval(string Name, long Nanos)
{
    public static readonly IReadOnlyList<AnalyticsInterval> All =
    [
        new("1m", 60_000_000_000), new("5m", 300_000_000_000), new("15m", 900_000_000_000),
        new("1h", 3_600_000_000_000), new("6h", 21_600_000_000_000), new("1d", 86_400_000_000_000),
    ];

    /// <summary>Without <c>interval</c>: the finest width that gives at most about 360 buckets over the window.</summary>
    public static AnalyticsInterval For(long windowNanos) => All.FirstOrDefault(i => windowNanos / i.Nanos <= 360) ?? All[^1];

    public bool AtLeastAnHour => Nanos >= All[3].Nanos;
}

/// <summary>What <c>group_by</c> names: the response's <c>group</c> of each bucket.</summary>
internal enum AnalyticsGroup
{
    None,
    Model,
    Provider,
    Service,
    Project,
    Type,
    User,
}

/// <summary>GET /v1/analytics/llm's parameters, validated; the window widened to whole buckets.</summary>
internal sealed record LlmAnalyticsQuery(
    IReadOnlyList<Guid> Projects,
    long FromUnixNanos,
    long ToUnixNanos,
    AnalyticsInterval Interval,
    AnalyticsGroup GroupBy,
    string? Model,
    string? Service,
    string? UserId)
{
    public const string IntervalParameter = "interval";
    public const string GroupByParameter = "group_by";
    public const int MaxBuckets = 10_000;

    private static readonly string[] Filters = ["model", "service", "user_id"];

    /// <summary>The values of <c>group_by</c>, in the order the refusal lists them.</summary>
    public static readonly IReadOnlyDictionary<string, AnalyticsGroup> Groups = new Dictionary<string, AnalyticsGroup>
    {
        ["model"] = AnalyticsGroup.Model,
        ["provider"] = AnalyticsGroup.Provider,
        ["service"] = AnalyticsGroup.Service,
        ["project"] = AnalyticsGroup.Project,
        ["type"] = AnalyticsGroup.Type,
        ["user"] = AnalyticsGroup.User,
    };

    /// <summary>
    /// The rollup that answers with the fewest rows: per hour by model where the question has whole hours and
    /// neither a user nor a service in it, per hour where it has no user, else per minute (migration 0007).
    /// </summary>
    public string Table => !Interval.AtLeastAnHour || GroupBy == AnalyticsGroup.User || UserId is not null ? "telemetry.llm_usage_minute"
        : GroupBy == AnalyticsGroup.Service || Service is not null ? "telemetry.llm_usage_hour"
        : "telemetry.llm_usage_hour_model";

    public static Refusal? TryParse(IQueryCollection query, CallerIdentity caller, out LlmAnalyticsQuery parsed)
    {
        parsed = null!;
        if (QueryParameters.Window(query, required: true, maxWindow: null, out var from, out var to) is { } badWindow)
        {
            return badWindow;
        }

        if (QueryParameters.Projects(query, caller, out var projects) is { } badProject)
        {
            return badProject;
        }

        AnalyticsInterval interval;
        var intervalText = query[IntervalParameter].ToString();
        if (intervalText.Length == 0)
        {
            interval = AnalyticsInterval.For(to - from);
        }
        else if (AnalyticsInterval.All.FirstOrDefault(i => i.Name == intervalText) is { } named)
        {
            interval = named;
        }
        else
        {
            return Refusal.BadRequest($"{IntervalParameter} '{QueryParameters.Shorten(intervalText)}' is not one of {string.Join(", ", AnalyticsInterval.All.Select(i => i.Name))}");
        }

        // Whole buckets from the epoch (UTC midnight for 1d): the window grows to the buckets it touches.
        var start = Floor(from, interval.Nanos);
        var end = to == long.MaxValue ? to : Floor(to - 1, interval.Nanos) + interval.Nanos;
        if ((Int128)end - start > (Int128)interval.Nanos * MaxBuckets)
        {
            var buckets = (((Int128)end - start) / interval.Nanos).ToString("N0", CultureInfo.InvariantCulture);
            return Refusal.BadRequest(
                $"{IntervalParameter} {interval.Name} gives {buckets} buckets between {QueryParameters.From} and {QueryParameters.To}, over the maximum of {MaxBuckets:N0}: use a wider {IntervalParameter} or a narrower window");
        }

        var group = AnalyticsGroup.None;
        var groupText = query[GroupByParameter].ToString();
        if (groupText.Length > 0 && !Groups.TryGetValue(groupText, out group))
        {
            return Refusal.BadRequest($"{GroupByParameter} '{QueryParameters.Shorten(groupText)}' is not one of {string.Join(", ", Groups.Keys)}");
        }

        foreach (var name in Filters)
        {
            if (query[name].ToString() is { Length: > ExportApi.MaxFilterLength } tooLong)
            {
                return Refusal.BadRequest($"{name} '{QueryParameters.Shorten(tooLong)}' is longer than {ExportApi.MaxFilterLength} characters");
            }
        }

        string? Text(string name) => query[name].ToString() is { Length: > 0 } value ? value : null;
        parsed = new LlmAnalyticsQuery(projects, start, end, interval, group, Text("model"), Text("service"), Text("user_id"));
        return null;
    }

    private static long Floor(long unixNanos, long width) => unixNanos - (((unixNanos % width) + width) % width);
}
