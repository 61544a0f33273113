using System.Net;
using System.Net.Http.Json;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Export.Http;
using Trulayer.Otlp.Json;
using Trulayer.ServiceDefaults.Identity;
using Trulayer.Workload;

namespace Trulayer.Export.Tests;

/// <summary>The dashboard's trace view (one whole trace) and trace list (newest first, filtered, paged).</summary>
[Collection(ExportCollection.Name)]
public sealed class TraceViewTests(ExportStack stack)
{
    public sealed record Summary(
        string TraceId, Guid ProjectId, string Name, string StartTime, string StartTimeUnixNano, string EndTimeUnixNano, long DurationNanos,
        long SpanCount, string[] Services, string[] Models, long InputTokens, long OutputTokens, decimal Cost, bool HasError);

    public sealed record TraceList(List<Summary> Traces, string? NextCursor);

    private Task<GenAiProject> ProjectAsync() => stack.SharedAsync("genai traces", LoadAsync);

    [Fact]
    public async Task Trace_ThroughTheGateway_IsTheWholeTrace()
    {
        var project = await ProjectAsync();
        var trace = project.Traces[3];

        using var response = await stack.SendAsync(HttpMethod.Get, $"{ExportApi.TracesPath}/{trace.Id.ToUpperInvariant()}?project_id={project.Tenant.Project}", project.Tenant.Session);
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Null(response.Headers.TryGetValues(ExportApi.NextCursorHeader, out _) ? "cursor" : null);
        Assert.Equal(trace.Facts, SpanFact.Of(OtlpJson.ParseTracesData(body)));
    }

    [Fact]
    public async Task Trace_Unknown_Is404()
    {
        var project = await ProjectAsync();

        using var response = await stack.GetDirectAsync($"{ExportApi.TracesPath}/0af7651916cd43dd8448eb211c80319c", ExportStack.Viewer(project.Tenant));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("trace 0af7651916cd43dd8448eb211c80319c not found", await ParameterTests.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TraceList_NewestFirstWithTheTracesAggregates()
    {
        var project = await ProjectAsync();

        var list = await ListAsync(stack, ExportStack.Viewer(project.Tenant), "limit=100");

        Assert.Null(list.NextCursor);
        Assert.Equal(project.Traces.OrderByDescending(t => t.Start).Select(t => t.Id), list.Traces.Select(t => t.TraceId));
        foreach (var summary in list.Traces)
        {
            var trace = project.Traces.Single(t => t.Id == summary.TraceId);
            Assert.Equal(project.Tenant.Project, summary.ProjectId);
            Assert.Equal("agent.run", summary.Name);
            Assert.Equal(trace.Start.ToString(System.Globalization.CultureInfo.InvariantCulture), summary.StartTimeUnixNano);
            Assert.Equal(trace.End - trace.Start, (ulong)summary.DurationNanos);
            Assert.Equal(trace.Facts.Count, summary.SpanCount);
            Assert.Equal(["bench-agent"], summary.Services);
            Assert.Equal(trace.Models, summary.Models);
            Assert.Equal(trace.InputTokens, summary.InputTokens);
            Assert.Equal(trace.OutputTokens, summary.OutputTokens);
            Assert.Equal(trace.CostMicros / 1_000_000m, summary.Cost);
            Assert.Equal(trace.HasError, summary.HasError);
            Assert.EndsWith("Z", summary.StartTime, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task TraceList_Filters()
    {
        var project = await ProjectAsync();
        var caller = ExportStack.Viewer(project.Tenant);
        var model = project.Traces[0].Models[0];

        var byModel = await ListAsync(stack, caller, $"model={Uri.EscapeDataString(model)}");
        var errors = await ListAsync(stack, caller, "status=error");
        var ok = await ListAsync(stack, caller, "status=ok");
        var service = await ListAsync(stack, caller, "service=bench-agent");
        var otherService = await ListAsync(stack, caller, "service=checkout");
        var prefix = await ListAsync(stack, caller, "q=AGENT.");
        var otherPrefix = await ListAsync(stack, caller, "q=run");
        var window = await ListAsync(stack, caller, $"from={Rfc(project.Traces[2].Start)}&to={Rfc(project.Traces[5].Start)}");

        Assert.Equal(Ids(project.Traces.Where(t => t.Models.Contains(model))), Ids(byModel));
        Assert.NotEmpty(errors.Traces);
        Assert.Equal(Ids(project.Traces.Where(t => t.HasError)), Ids(errors));
        Assert.Equal(Ids(project.Traces.Where(t => !t.HasError)), Ids(ok));
        Assert.Equal(10, service.Traces.Count);
        Assert.Empty(otherService.Traces);
        Assert.Equal(10, prefix.Traces.Count);
        Assert.Empty(otherPrefix.Traces);
        Assert.Equal(Ids(project.Traces.Skip(2).Take(3)), Ids(window));
    }

    [Fact]
    public async Task TraceList_PagesOf3_EveryTraceOnce()
    {
        var project = await ProjectAsync();
        var caller = ExportStack.Viewer(project.Tenant);
        var pages = new List<TraceList>();
        string? cursor = null;
        do
        {
            var page = await ListAsync(stack, caller, "limit=3&status=ok" + (cursor is null ? "" : $"&cursor={cursor}"));
            pages.Add(page);
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        var expected = project.Traces.Where(t => !t.HasError).OrderByDescending(t => t.Start).Select(t => t.Id).ToList();
        Assert.Equal(expected, pages.SelectMany(p => p.Traces).Select(t => t.TraceId));
        Assert.All(pages.SkipLast(1), p => Assert.Equal(3, p.Traces.Count));
        Assert.InRange(pages[^1].Traces.Count, 1, 3);
        Assert.Equal((expected.Count + 2) / 3, pages.Count);
    }

    [Fact]
    public async Task TraceList_TraceSentInTwoParts_HasTheModelsOfBoth()
    {
        var tenant = await stack.NewTenantAsync();
        var batch = StandardBatch.GenAi(spans: 12, traces: 1, seed: 12, start: DateTimeOffset.UtcNow.AddDays(-2));
        var spans = batch.ResourceSpans[0].ScopeSpans;
        var expected = Expect(batch).Single();
        // Each part has models the other lacks; the processor stores them in separate transactions.
        var first = new ScopeSpans { Scope = spans[0].Scope, Spans = { spans[0].Spans[0] } };
        var rest = new ScopeSpans { Scope = spans[0].Scope, Spans = { spans[0].Spans.Skip(1) } };
        var part1 = new ExportTraceServiceRequest { ResourceSpans = { new ResourceSpans { Resource = batch.ResourceSpans[0].Resource, ScopeSpans = { first, spans[1] } } } };
        var part2 = new ExportTraceServiceRequest { ResourceSpans = { new ResourceSpans { Resource = batch.ResourceSpans[0].Resource, ScopeSpans = { rest } } } };

        await stack.IngestAsync(tenant.ApiKey, part1);
        await stack.WaitForSpansAsync(tenant.Project, 1 + spans[1].Spans.Count);
        var afterFirst = Assert.Single((await ListAsync(stack, ExportStack.Viewer(tenant), "")).Traces);
        await stack.IngestAsync(tenant.ApiKey, part2);
        await stack.WaitForSpansAsync(tenant.Project, 12);
        var list = await ListAsync(stack, ExportStack.Viewer(tenant), "");

        var summary = Assert.Single(list.Traces);
        Assert.Equal(2, afterFirst.Models.Length);
        Assert.True(expected.Models.Length > 2, string.Join(",", expected.Models));
        Assert.Equal(expected.Models, summary.Models);
        Assert.Equal(12, summary.SpanCount);
        Assert.Equal(expected.InputTokens, summary.InputTokens);
    }

    internal static async Task<TraceList> ListAsync(ExportStack stack, CallerIdentity caller, string query)
    {
        using var response = await stack.GetDirectAsync($"{ExportApi.TracesPath}?{query}", caller);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {text}");
        var list = await response.Content.ReadFromJsonAsync<TraceList>();
        return list! with { NextCursor = response.Headers.TryGetValues(ExportApi.NextCursorHeader, out var values) ? values.Single() : null };
    }

    private static string Rfc(ulong unixNanos)
        => Uri.EscapeDataString(DateTimeOffset.FromUnixTimeMilliseconds((long)(unixNanos / 1_000_000)).AddTicks((long)(unixNanos % 1_000_000 / 100)).ToString("O"));

    private static List<string> Ids(IEnumerable<ExpectedTrace> traces) => [.. traces.OrderByDescending(t => t.Start).Select(t => t.Id)];

    private static List<string> Ids(TraceList list) => [.. list.Traces.Select(t => t.TraceId)];

    private async Task<GenAiProject> LoadAsync()
    {
        var tenant = await stack.NewTenantAsync();
        var batch = StandardBatch.GenAi(spans: 100, traces: 10, seed: 11, start: DateTimeOffset.UtcNow.AddDays(-1));
        await stack.IngestAsync(tenant.ApiKey, batch);
        await stack.WaitForSpansAsync(tenant.Project, 100);
        return new GenAiProject(tenant, Expect(batch));
    }

    /// <summary>What telemetry.traces should say of each trace, worked out from the batch itself.</summary>
    private static List<ExpectedTrace> Expect(ExportTraceServiceRequest batch)
        => [.. SpanFact.Of(batch).GroupBy(f => f.Key[..32]).Select(g =>
        {
            string? Text(Span span, string key) => span.Attributes.FirstOrDefault(a => a.Key == key)?.Value.StringValue;
            long Number(string key) => g.Sum(f => f.Span.Attributes.FirstOrDefault(a => a.Key == key)?.Value.IntValue ?? 0);
            var facts = g.ToList();
            return new ExpectedTrace(
                g.Key,
                facts,
                facts.Min(f => f.Span.StartTimeUnixNano),
                facts.Max(f => f.Span.EndTimeUnixNano),
                [.. facts.SelectMany(f => new[] { Text(f.Span, "gen_ai.request.model"), Text(f.Span, "gen_ai.response.model") }).OfType<string>().Distinct().Order(StringComparer.Ordinal)],
                Number("gen_ai.usage.input_tokens"),
                Number("gen_ai.usage.output_tokens"),
                facts.Sum(f => f.Span.Attributes.FirstOrDefault(a => a.Key == "gen_ai.usage.cost") is { } cost
                    ? (long)Math.Round(cost.Value.DoubleValue * 1_000_000, MidpointRounding.AwayFromZero)
                    : 0),
                facts.Any(f => f.Span.Status?.Code == Status.Types.StatusCode.Error));
        }).OrderBy(t => t.Start)];

    internal sealed record ExpectedTrace(string Id, List<SpanFact> Facts, ulong Start, ulong End, string[] Models, long InputTokens, long OutputTokens, long CostMicros, bool HasError);

    internal sealed record GenAiProject(Tenant Tenant, List<ExpectedTrace> Traces);
}
