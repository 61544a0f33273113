using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Export.Http;
using Trulayer.Otlp.Json;

namespace Trulayer.Export.Tests;

/// <summary>The same page as OTLP/JSON or protobuf, plain or gzip.</summary>
[Collection(ExportCollection.Name)]
public sealed class EncodingTests(ExportStack stack)
{
    [Fact]
    public async Task Protobuf_IsTheSamePageAsJson()
    {
        var project = await stack.TwentyFiveThousandSpansAsync();
        var query = $"{ExportApi.ExportPath}?{project.Window}&limit=2500";

        var (json, jsonCursor, _) = await GetAsync(project, query, "application/json", gzip: false);
        var (protobuf, protobufCursor, contentType) = await GetAsync(project, query, "application/x-protobuf", gzip: false);

        Assert.Equal("application/x-protobuf", contentType);
        Assert.NotNull(protobufCursor);
        Assert.NotNull(jsonCursor);
        var fromJson = OtlpJson.ParseTracesData(json);
        var fromProtobuf = TracesData.Parser.ParseFrom(protobuf);
        Assert.Equal(2500, AccessTests.SpansOf(fromProtobuf).Count());
        Assert.Equal(fromJson, fromProtobuf);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/x-protobuf")]
    public async Task Gzip_DecompressesToTheUncompressedBody(string accept)
    {
        var project = await stack.TwentyFiveThousandSpansAsync();
        var query = $"{ExportApi.ExportPath}?{project.Window}&limit=3000";

        var (plain, _, _) = await GetAsync(project, query, accept, gzip: false);
        var (compressed, _, contentType) = await GetAsync(project, query, accept, gzip: true);

        Assert.Equal(accept, contentType);
        Assert.True(compressed.Length < plain.Length / 3, $"{compressed.Length} bytes compressed of {plain.Length}");
        await using var gunzip = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
        var decompressed = new MemoryStream();
        await gunzip.CopyToAsync(decompressed);
        Assert.Equal(plain, decompressed.ToArray());
    }

    [Fact]
    public async Task Gzip_ThroughTheGateway_ComesCompressed()
    {
        var project = await stack.TwentyFiveThousandSpansAsync();

        using var response = await stack.SendAsync(HttpMethod.Get, $"{ExportApi.ExportPath}?{project.Window}&limit=100", project.Tenant.Session,
            configure: r => r.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip")));
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["gzip"], response.Content.Headers.ContentEncoding);
        Assert.NotNull(response.Headers.GetValues(ExportApi.NextCursorHeader).Single());
        await using var gunzip = new GZipStream(new MemoryStream(body), CompressionMode.Decompress);
        var decompressed = new MemoryStream();
        await gunzip.CopyToAsync(decompressed);
        Assert.Equal(100, AccessTests.SpansOf(OtlpJson.ParseTracesData(decompressed.ToArray())).Count());
    }

    private async Task<(byte[] Body, string? Cursor, string? ContentType)> GetAsync(LoadedProject project, string query, string accept, bool gzip)
    {
        using var response = await stack.GetDirectAsync(query, ExportStack.Viewer(project.Tenant), r =>
        {
            r.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
            if (gzip)
            {
                r.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));
            }
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(gzip ? ["gzip"] : [], response.Content.Headers.ContentEncoding);
        return (await response.Content.ReadAsByteArrayAsync(),
                response.Headers.TryGetValues(ExportApi.NextCursorHeader, out var values) ? values.Single() : null,
                response.Content.Headers.ContentType?.MediaType);
    }
}
