using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Spectre.Console;

namespace Trulayer.Load.Seed;

/// <summary>One query of the fixed set: the route it measures and its path with query string.</summary>
internal sealed record BenchQuery(string Route, string Name, string Path, double TargetMs);

/// <summary>What one query measured: milliseconds per run (warm), or why it was not measured.</summary>
internal sealed record BenchResult(string Route, string Name, string Path, double TargetMs, int Runs, double? MedianMs, double? P95Ms, double? MaxMs, long? Bytes, string? Skipped);

/// <summary>
/// The read routes timed warm, through the gateway with a dashboard session, on the seeded project: each
/// query runs <c>warm</c> times unmeasured, then <c>runs</c> times measured, one at a time, from the
/// request to the last byte of the body. A route the branch does not serve (the gateway answers 404
/// with no route) is reported as skipped, so the set can name routes still being built.
/// </summary>
internal sealed class QueryBench(Uri gateway, string session, IAnsiConsole console)
{
    /// <summary>The fixed set over the project's last <paramref name="days"/> days.</summary>
    public static IReadOnlyList<BenchQuery> Queries(Guid project, double days, DateTimeOffset now)
    {
        string Time(DateTimeOffset t) => Uri.EscapeDataString(t.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        var window = $"project_id={project}&from={Time(now.AddDays(-days))}&to={Time(now)}";
        var lastDay = $"project_id={project}&from={Time(now.AddDays(-1))}&to={Time(now)}";
        return
        [
            new("GET /v1/traces", "model filter, 30 days", $"/v1/traces?{window}&model=gpt-4o&limit=50", 100),
            new("GET /v1/traces", "service filter, 30 days", $"/v1/traces?{window}&service=support-bot&limit=50", 100),
            new("GET /v1/traces", "status=error, 30 days", $"/v1/traces?{window}&status=error&limit=50", 100),
            new("GET /v1/sessions", "no filter, 30 days", $"/v1/sessions?{window}&limit=50", 100),
            new("GET /v1/sessions", "user filter, 30 days", $"/v1/sessions?{window}&user_id=user-0042&limit=50", 100),
            new("GET /v1/analytics/llm", "hourly by model, 30 days", $"/v1/analytics/llm?{window}&interval=1h&group_by=model", 200),
            new("GET /v1/analytics/llm", "daily by provider, 30 days", $"/v1/analytics/llm?{window}&interval=1d&group_by=provider", 200),
            new("GET /v1/analytics/llm", "per minute by service, 1 day", $"/v1/analytics/llm?{lastDay}&interval=1m&group_by=service", 200),
            new("GET /v1/analytics/llm", "one user, hourly, 30 days", $"/v1/analytics/llm?{window}&interval=1h&user_id=user-0042", 200),
            new("GET /v1/spans", "q=refund, 30 days", $"/v1/spans?{window}&q=refund&limit=50", 500),
        ];
    }

    public async Task<IReadOnlyList<BenchResult>> RunAsync(IReadOnlyList<BenchQuery> queries, int warm, int runs, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = gateway, Timeout = TimeSpan.FromMinutes(2) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", session);
        var results = new List<BenchResult>();
        foreach (var query in queries)
        {
            var (status, body, _) = await TimeAsync(http, query.Path, cancellationToken);
            if (status == HttpStatusCode.NotFound && !IsServiceAnswer(body))
            {
                console.MarkupLine($"[yellow]{Markup.Escape(query.Route)}: not served on this branch; skipped[/]");
                results.Add(new BenchResult(query.Route, query.Name, query.Path, query.TargetMs, 0, null, null, null, null, "route not served"));
                continue;
            }

            if (status != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"{query.Path} answered {(int)status}: {body}");
            }

            for (var i = 1; i < warm; i++)
            {
                await TimeAsync(http, query.Path, cancellationToken);
            }

            var times = new List<double>(runs);
            long bytes = 0;
            for (var i = 0; i < runs; i++)
            {
                var (_, content, ms) = await TimeAsync(http, query.Path, cancellationToken);
                times.Add(ms);
                bytes = content.Length;
            }

            times.Sort();
            var result = new BenchResult(query.Route, query.Name, query.Path, query.TargetMs, runs,
                Math.Round(times[runs / 2], 1), Math.Round(times[(int)Math.Ceiling(0.95 * runs) - 1], 1), Math.Round(times[^1], 1), bytes, null);
            console.MarkupLine($"{Markup.Escape(query.Route)} {Markup.Escape(query.Name)}: p95 {result.P95Ms} ms, median {result.MedianMs} ms ({bytes:N0} bytes)");
            results.Add(result);
        }

        return results;
    }

    private static async Task<(HttpStatusCode Status, string Body, double Ms)> TimeAsync(HttpClient http, string path, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var response = await http.GetAsync(path, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        return (response.StatusCode, body, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>A 404 from the service itself (a JSON error about the query), not the gateway's "no such route".</summary>
    private static bool IsServiceAnswer(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.TryGetProperty("error", out var error) && error.GetString() is { } message && !message.StartsWith("no route for", StringComparison.Ordinal);
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
