using System.Net;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using Trulayer.ServiceDefaults.Identity;
using Trulayer.Workload;
using static Trulayer.Ingest.Tests.OtlpClient;

namespace Trulayer.Ingest.Tests;

/// <summary>OTLP/gRPC TraceService/Export on the grpc endpoint (h2c), framed and answered by hand.</summary>
public sealed class GrpcIngestTests(IngestFixture fixture) : IClassFixture<IngestFixture>
{
    private readonly HttpClient _client = fixture.Host.CreateGrpcClient();

    [Fact]
    public async Task Export_Grpc_OkInTrailersAndSpansInKafka()
    {
        var project = Guid.NewGuid();
        var request = StandardBatch.GenAi(spans: 90, traces: 3);

        var answer = await GrpcExportAsync(_client, request.ToByteArray(), ApiKey(project));

        Assert.Equal(200, answer.HttpStatus);
        Assert.Equal("application/grpc", answer.ContentType);
        Assert.Equal(0, answer.GrpcStatus);
        Assert.True(answer.StatusInTrailers);
        Assert.Equal(new ExportTraceServiceResponse(), answer.Response);
        var records = RecordsOf(fixture.Kafka, project);
        Assert.Equal(3, records.Count);
        Assert.Equal(90, SpansOf(records).Count);
        Assert.All(records, r => Assert.Equal($"{project}:{Convert.ToHexStringLower(r.Batch.TraceId.Span)}", r.Key));
    }

    [Fact]
    public async Task Export_GrpcGzipMessage_IsInflated()
    {
        var project = Guid.NewGuid();
        var request = StandardBatch.Lean(spans: 40, traces: 2);

        var answer = await GrpcExportAsync(_client, request.ToByteArray(), ApiKey(project), gzip: true);

        Assert.Equal(0, answer.GrpcStatus);
        Assert.Equal(40, SpansOf(RecordsOf(fixture.Kafka, project)).Count);
    }

    [Fact]
    public async Task Export_GrpcUnknownCompression_Unimplemented()
    {
        var flagged = new ByteArrayContent(GrpcFrame([1, 2, 3], compressed: true));
        flagged.Headers.ContentType = new("application/grpc");
        using var message = new HttpRequestMessage(HttpMethod.Post, Grpc.OtlpGrpcApi.ExportPath)
        {
            Content = flagged,
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        message.Headers.Add("grpc-encoding", "snappy");
        message.Headers.Add(IdentityAssertion.HeaderName, ApiKey(Guid.NewGuid()));
        using var response = await _client.SendAsync(message);
        Assert.Equal("12", response.Headers.GetValues("grpc-status").Single());
        Assert.Contains("snappy", Uri.UnescapeDataString(response.Headers.GetValues("grpc-message").Single()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_GrpcWithoutIdentity_Unauthenticated()
    {
        var answer = await GrpcExportAsync(_client, StandardBatch.Lean(spans: 1).ToByteArray(), identity: null);

        Assert.Equal(200, answer.HttpStatus);
        Assert.Equal(16, answer.GrpcStatus);
        Assert.False(answer.StatusInTrailers);
        Assert.Contains(IdentityAssertion.HeaderName, answer.GrpcMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_GrpcViewerSession_PermissionDenied()
    {
        var project = Guid.NewGuid();
        var viewer = TestIdentity.Sign(TestIdentity.Session(Roles.Viewer, Guid.NewGuid(), project));

        var answer = await GrpcExportAsync(_client, StandardBatch.Lean(spans: 1).ToByteArray(), viewer, metadata: new Dictionary<string, string> { ["project_id"] = project.ToString() });

        Assert.Equal(7, answer.GrpcStatus);
    }

    [Fact]
    public async Task Export_GrpcSessionNamesItsProjectInMetadata_Ok()
    {
        var project = Guid.NewGuid();
        var member = TestIdentity.Sign(TestIdentity.Session(Roles.Member, Guid.NewGuid(), project));

        var answer = await GrpcExportAsync(_client, StandardBatch.Lean(spans: 4, traces: 1).ToByteArray(), member, metadata: new Dictionary<string, string> { ["project_id"] = project.ToString() });

        Assert.Equal(0, answer.GrpcStatus);
        Assert.Equal(4, SpansOf(RecordsOf(fixture.Kafka, project)).Count);
    }

    [Fact]
    public async Task Export_GrpcSessionNamingAForeignProject_NotFound()
    {
        var foreign = Guid.NewGuid();
        var owner = TestIdentity.Sign(TestIdentity.Session(Roles.Owner, Guid.NewGuid(), Guid.NewGuid()));

        var answer = await GrpcExportAsync(_client, StandardBatch.Lean(spans: 1).ToByteArray(), owner, query: $"?project_id={foreign}");

        Assert.Equal(5, answer.GrpcStatus);
        Assert.Equal($"project {foreign} not found", answer.GrpcMessage);
    }

    [Fact]
    public async Task Export_GrpcMalformedMessage_InvalidArgumentWithReadableMessage()
    {
        var answer = await GrpcExportAsync(_client, [0x0A, 0x50, 0x12], ApiKey(Guid.NewGuid()));

        Assert.Equal(3, answer.GrpcStatus);
        Assert.StartsWith("invalid OTLP protobuf at resource_spans[0]", answer.GrpcMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_GrpcPartialSuccess_InTheResponseMessage()
    {
        var project = Guid.NewGuid();
        var request = StandardBatch.Lean(spans: 6, traces: 1);
        request.ResourceSpans[0].ScopeSpans[0].Spans[2].SpanId = ByteString.CopyFrom(new byte[3]);

        var answer = await GrpcExportAsync(_client, request.ToByteArray(), ApiKey(project));

        Assert.Equal(0, answer.GrpcStatus);
        Assert.Equal(1, answer.Response!.PartialSuccess.RejectedSpans);
        Assert.Contains("span_id", answer.Response.PartialSuccess.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(5, SpansOf(RecordsOf(fixture.Kafka, project)).Count);
    }

    [Fact]
    public async Task Export_GrpcMoreThan10000Spans_ResourceExhausted()
    {
        var answer = await GrpcExportAsync(_client, StandardBatch.Lean(spans: 10_001).ToByteArray(), ApiKey(Guid.NewGuid()));

        Assert.Equal(8, answer.GrpcStatus);
        Assert.Contains("10000", answer.GrpcMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_GrpcEmptyMessage_Ok()
    {
        var answer = await GrpcExportAsync(_client, [], ApiKey(Guid.NewGuid()));

        Assert.Equal(0, answer.GrpcStatus);
        Assert.Equal(new ExportTraceServiceResponse(), answer.Response);
    }

    [Fact]
    public async Task Export_GrpcOverHttp11_IsRefused()
    {
        using var http = fixture.Host.CreateHttpClient();
        var content = new ByteArrayContent(GrpcFrame(StandardBatch.Lean(spans: 1).ToByteArray()));
        content.Headers.ContentType = new("application/grpc");
        using var message = new HttpRequestMessage(HttpMethod.Post, Grpc.OtlpGrpcApi.ExportPath) { Content = content };
        message.Headers.Add(IdentityAssertion.HeaderName, ApiKey(Guid.NewGuid()));

        using var response = await http.SendAsync(message);

        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);
        Assert.Contains("HTTP/2", Uri.UnescapeDataString(response.Headers.GetValues("grpc-message").Single()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_GrpcEndpoint_IsHttp2Only()
    {
        using var http11 = new HttpClient { BaseAddress = fixture.Host.Grpc };

        using var response = await http11.GetAsync("/alive");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("HTTP/2 only", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
