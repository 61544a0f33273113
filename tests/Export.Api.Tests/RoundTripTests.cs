using System.Net;
using System.Net.Http.Headers;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Export.Http;
using Trulayer.Otlp.Json;

namespace Trulayer.Export.Tests;

/// <summary>What goes in comes out: ingested through the gateway and Ingest.Api, stored by the processor, exported, re-ingested, exported again.</summary>
[Collection(ExportCollection.Name)]
public sealed class RoundTripTests(ExportStack stack)
{
    [Fact]
    public async Task Export_ReIngestedIntoAnotherProject_GivesTheSameSpansFieldForField()
    {
        var a = await stack.NewTenantAsync();
        var b = await stack.NewTenantAsync();
        var start = DateTimeOffset.UtcNow.AddMinutes(-5);
        var batch = VariedBatch.Create(start);
        var expected = SpanFact.Of(batch);
        var window = Window(start);

        await stack.IngestAsync(a.ApiKey, batch);
        await stack.WaitForSpansAsync(a.Project, expected.Count);
        var (fromA, cursorA) = await ExportJsonAsync(a.Session, window);
        await stack.IngestJsonAsync(b.ApiKey, fromA);
        await stack.WaitForSpansAsync(b.Project, expected.Count);
        var (fromB, cursorB) = await ExportJsonAsync(b.Session, window);

        Assert.Null(cursorA);
        Assert.Null(cursorB);
        Assert.Equal(expected, SpanFact.Of(OtlpJson.ParseTracesData(fromA)));
        Assert.Equal(expected, SpanFact.Of(OtlpJson.ParseTracesData(fromB)));
    }

    [Fact]
    public async Task Export_AsProtobuf_GivesTheSpansAsIngested()
    {
        var a = await stack.NewTenantAsync();
        var start = DateTimeOffset.UtcNow.AddMinutes(-7);
        var batch = VariedBatch.Create(start);
        await stack.IngestAsync(a.ApiKey, batch);
        await stack.WaitForSpansAsync(a.Project, SpanFact.Of(batch).Count);

        using var response = await stack.SendAsync(HttpMethod.Get, $"{ExportApi.ExportPath}?{Window(start)}", a.Session,
            configure: r => r.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/x-protobuf")));
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-protobuf", response.Content.Headers.ContentType?.MediaType);
        var exported = TracesData.Parser.ParseFrom(body);
        Assert.Equal(SpanFact.Of(batch), SpanFact.Of(exported));
        // Two resources, three scope groups: each ResourceSpans holds its scopes once.
        Assert.Equal(2, exported.ResourceSpans.Count);
        Assert.Equal(3, exported.ResourceSpans.Sum(r => r.ScopeSpans.Count));
    }

    internal static string Window(DateTimeOffset start)
        => $"from={Uri.EscapeDataString(start.AddMinutes(-1).ToString("O"))}&to={Uri.EscapeDataString(start.AddMinutes(1).ToString("O"))}";

    private async Task<(byte[] Body, string? Cursor)> ExportJsonAsync(string session, string window)
    {
        using var response = await stack.SendAsync(HttpMethod.Get, $"{ExportApi.ExportPath}?{window}", session);
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(body)}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (body, response.Headers.TryGetValues(ExportApi.NextCursorHeader, out var values) ? values.Single() : null);
    }
}
