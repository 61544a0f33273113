using System.Net;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Export.Http;
using Trulayer.Otlp.Json;
using Trulayer.ServiceDefaults.Identity;
using Trulayer.Workload;

namespace Trulayer.Export.Tests;

/// <summary>Dashboard sessions only, and each organization sees its own projects' spans and nothing else.</summary>
[Collection(ExportCollection.Name)]
public sealed class AccessTests(ExportStack stack)
{
    [Theory]
    [InlineData(ExportApi.ExportPath + "?from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z")]
    [InlineData(ExportApi.TracesPath)]
    [InlineData(ExportApi.TracesPath + "/0af7651916cd43dd8448eb211c80319c")]
    public async Task ApiKey_ThroughTheGateway_Is403(string path)
    {
        using var response = await stack.SendAsync(HttpMethod.Get, path, stack.Dev.ApiKey);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Theory]
    [InlineData(ExportApi.ExportPath + "?from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z")]
    [InlineData(ExportApi.TracesPath)]
    [InlineData(ExportApi.TracesPath + "/0af7651916cd43dd8448eb211c80319c")]
    public async Task ApiKey_StraightToExport_Is403SayingASessionIsNeeded(string path)
    {
        var key = new CallerIdentity(CallerKind.ApiKey, Guid.NewGuid(), [Guid.Parse(stack.Dev.ProjectId!)], ApiKeyId: Guid.NewGuid());

        using var response = await stack.GetDirectAsync(path, key);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("needs a dashboard session", await ParameterTests.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoAssertion_StraightToExport_Is401()
    {
        using var response = await stack.GetDirectAsync(ExportApi.TracesPath, caller: null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("owner")]
    [InlineData("member")]
    [InlineData("viewer")]
    public async Task EveryRole_ThroughTheGateway_MayExport(string role)
    {
        using var response = await stack.SendAsync(HttpMethod.Get, $"{ExportApi.ExportPath}?from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z", stack.Dev.Sessions![role]);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task TwoOrganizations_EachSeesOnlyItsOwnSpans()
    {
        var a = await stack.NewTenantAsync();
        var b = await stack.NewTenantAsync();
        var start = DateTimeOffset.UtcNow.AddHours(-3);
        // The same trace and span ids in both: only the project tells them apart.
        var batch = StandardBatch.GenAi(spans: 40, traces: 4, seed: 7, start: start);
        var onlyA = StandardBatch.Lean(spans: 10, traces: 1, seed: 8, start: start);
        await stack.IngestAsync(a.ApiKey, batch);
        await stack.IngestAsync(a.ApiKey, onlyA);
        await stack.IngestAsync(b.ApiKey, batch);
        await stack.WaitForSpansAsync(a.Project, 50);
        await stack.WaitForSpansAsync(b.Project, 40);
        var window = RoundTripTests.Window(start);
        var traceOfA = Convert.ToHexStringLower(onlyA.ResourceSpans[0].ScopeSpans[0].Spans[0].TraceId.Span);

        var exportA = await ExportAsync(a.Session, window);
        var exportB = await ExportAsync(b.Session, window);
        using var bNamingA = await stack.SendAsync(HttpMethod.Get, $"{ExportApi.ExportPath}?{window}&project_id={a.Project}", b.Session);
        using var directBNamingA = await stack.GetDirectAsync($"{ExportApi.ExportPath}?{window}&project_id={a.Project}", ExportStack.Viewer(b));
        using var bLooksUpTraceOfA = await stack.GetDirectAsync($"{ExportApi.TracesPath}/{traceOfA}", ExportStack.Viewer(b));
        using var bListsA = await stack.GetDirectAsync($"{ExportApi.TracesPath}?project_id={a.Project}", ExportStack.Viewer(b));
        var listB = await TraceViewTests.ListAsync(stack, ExportStack.Viewer(b), "limit=100");

        Assert.Equal(50, exportA.Count);
        Assert.Equal(40, exportB.Count);
        Assert.Equal(SpanFact.Of(batch).Select(f => f.Span), exportB.Select(f => f.Span));
        Assert.Equal(HttpStatusCode.NotFound, bNamingA.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, directBNamingA.StatusCode);
        Assert.Contains($"project {a.Project} not found", await ParameterTests.ErrorAsync(directBNamingA), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, bLooksUpTraceOfA.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, bListsA.StatusCode);
        Assert.Equal(4, listB.Traces.Count);
        Assert.All(listB.Traces, t => Assert.Equal(b.Project, t.ProjectId));
    }

    [Fact]
    public async Task SessionWithTwoProjects_WithoutProjectId_ExportsBothAndTheSharedSpansOfEach()
    {
        var a = await stack.NewTenantAsync();
        var b = await stack.NewTenantAsync();
        var start = DateTimeOffset.UtcNow.AddHours(-4);
        var batch = StandardBatch.Lean(spans: 30, traces: 3, seed: 9, start: start);
        await stack.IngestAsync(a.ApiKey, batch);
        await stack.IngestAsync(b.ApiKey, batch);
        await stack.WaitForSpansAsync(a.Project, 30);
        await stack.WaitForSpansAsync(b.Project, 30);
        // One caller reaching both projects (as one organization with two projects would).
        var both = ExportStack.Viewer(a, b.Project);

        var pages = await stack.ExportAllAsync(both, RoundTripTests.Window(start) + "&limit=7");

        // Each span twice (once per project), every page full but the last, the projects merged in key order.
        Assert.Equal(60, pages.Sum(p => p.Spans.Count()));
        Assert.Equal(9, pages.Count);
        Assert.All(SpanFact.Of(pages.SelectMany(p => p.Data.ResourceSpans)).GroupBy(f => f.Key), g => Assert.Equal(2, g.Count()));
    }

    private async Task<List<SpanFact>> ExportAsync(string session, string window)
    {
        using var response = await stack.SendAsync(HttpMethod.Get, $"{ExportApi.ExportPath}?{window}", session);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return SpanFact.Of(OtlpJson.ParseTracesData(await response.Content.ReadAsByteArrayAsync()));
    }

    internal static IEnumerable<Span> SpansOf(TracesData data) => data.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans);
}
