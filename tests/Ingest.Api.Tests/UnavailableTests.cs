using System.Net;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Trulayer.Workload;
using static Trulayer.Ingest.Tests.OtlpClient;

namespace Trulayer.Ingest.Tests;

/// <summary>A broker of this class's own, so taking it down touches no other test; a short produce timeout.</summary>
public sealed class OutageFixture : IDisposable
{
    public OutageFixture()
    {
        Kafka = new KafkaFixture();
        Host = new IngestHost(Kafka, new Dictionary<string, string?> { ["Kafka:ProduceTimeout"] = "00:00:02", ["Ingest:RetryAfter"] = "00:00:07" });
    }

    public KafkaFixture Kafka { get; }

    public IngestHost Host { get; }

    public void Dispose()
    {
        Host.Dispose();
        Kafka.Dispose();
    }
}

/// <summary>When Kafka cannot take the spans, ingest says so (503 / UNAVAILABLE) and acknowledges nothing.</summary>
public sealed class KafkaOutageTests(OutageFixture fixture) : IClassFixture<OutageFixture>
{
    [Fact]
    public async Task Export_BrokerDown_503ThenAcceptedOnceItIsBack()
    {
        using var http = fixture.Host.CreateHttpClient();
        using var grpc = fixture.Host.CreateGrpcClient();
        var project = Guid.NewGuid();
        using (var warmUp = await PostAsync(http, "/v1/otlp/traces", StandardBatch.Lean(spans: 2).ToByteArray(), Protobuf, ApiKey(project)))
        {
            Assert.Equal(HttpStatusCode.OK, warmUp.StatusCode);
        }

        var acceptedBefore = fixture.Host.Metrics.Total("trulayer.ingest.spans.accepted");
        var request = StandardBatch.Lean(spans: 20, traces: 2);
        fixture.Kafka.Broker.SetDown();
        try
        {
            using var response = await PostAsync(http, "/v1/otlp/traces", request.ToByteArray(), Protobuf, ApiKey(project));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
            var (code, message) = await ReadErrorAsync(response);
            Assert.Equal(14, code);
            Assert.Contains("retry", message, StringComparison.Ordinal);

            using var json = await PostAsync(http, "/v1/otlp/v1/traces", Trulayer.Otlp.Json.OtlpJson.SerializeExportTraceServiceRequest(request), Json, ApiKey(project));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, json.StatusCode);
            Assert.Equal(14, (await ReadErrorAsync(json)).Code);

            var answer = await GrpcExportAsync(grpc, request.ToByteArray(), ApiKey(project));
            Assert.Equal(14, answer.GrpcStatus);
            Assert.Equal("7000", answer.RetryPushbackMs);

            Assert.Equal(acceptedBefore, fixture.Host.Metrics.Total("trulayer.ingest.spans.accepted"));
        }
        finally
        {
            fixture.Kafka.Broker.SetUp();
        }

        // The client retries the same request once the broker is back: it is accepted and in Kafka.
        HttpStatusCode status = default;
        for (var attempt = 0; attempt < 10 && status != HttpStatusCode.OK; attempt++)
        {
            using var retry = await PostAsync(http, "/v1/otlp/traces", request.ToByteArray(), Protobuf, ApiKey(project));
            status = retry.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(acceptedBefore + 20, fixture.Host.Metrics.Total("trulayer.ingest.spans.accepted"));
        var ids = SpansOf(RecordsOf(fixture.Kafka, project)).Select(s => s.SpanId).ToHashSet();
        Assert.All(SpansOf(request), s => Assert.Contains(s.SpanId, ids));
    }
}

/// <summary>
/// A refusal from the admission seam (where lag-aware load shedding plugs in) is a 503 for a request that
/// would otherwise be accepted; a broken request is still told what is wrong with it.
/// </summary>
public sealed class AdmissionTests : IDisposable
{
    private readonly KafkaFixture _kafka = new();
    private readonly IngestHost _host;

    public AdmissionTests()
    {
        _host = new IngestHost(_kafka, configureServices: services => services.AddSingleton<IIngestAdmission, RefusingAdmission>());
    }

    [Fact]
    public async Task Export_AdmissionRefuses_503WithItsRetryAfterAndNothingProduced()
    {
        using var http = _host.CreateHttpClient();
        var project = Guid.NewGuid();

        using var response = await PostAsync(http, "/v1/otlp/traces", StandardBatch.Lean(spans: 3).ToByteArray(), Protobuf, ApiKey(project));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(30), response.Headers.RetryAfter?.Delta);
        Assert.Equal("the processor is 2000000 records behind", (await ReadErrorAsync(response)).Message);
        Assert.Empty(RecordsOf(_kafka, project));

        var answer = await GrpcExportAsync(_host.CreateGrpcClient(), StandardBatch.Lean(spans: 3).ToByteArray(), ApiKey(project));
        Assert.Equal(14, answer.GrpcStatus);
        Assert.Equal("30000", answer.RetryPushbackMs);
    }

    [Theory]
    [InlineData("malformed protobuf")]
    [InlineData("malformed JSON")]
    [InlineData("truncated gzip")]
    public async Task Export_MalformedWhileRefusing_400NotA503(string kind)
    {
        using var http = _host.CreateHttpClient();
        var (body, contentType, coding) = kind switch
        {
            "malformed protobuf" => (new byte[] { 0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F }, Protobuf, null),
            "malformed JSON" => ("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"not-hex"}]}]}]}"""u8.ToArray(), Json, null),
            _ => (Gzip(StandardBatch.Lean(spans: 20).ToByteArray())[..40], Protobuf, (string?)"gzip"),
        };

        using var response = await PostAsync(http, "/v1/otlp/traces", body, contentType, ApiKey(Guid.NewGuid()), coding);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.RetryAfter);
        Assert.Equal(3, (await ReadErrorAsync(response)).Code);
    }

    [Fact]
    public async Task Export_TooManySpansWhileRefusing_413NotA503()
    {
        using var http = _host.CreateHttpClient();

        using var response = await PostAsync(http, "/v1/otlp/traces", StandardBatch.Lean(spans: 10_001).ToByteArray(), Protobuf, ApiKey(Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("more than 10000 spans", (await ReadErrorAsync(response)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_UnsupportedMediaTypeWhileRefusing_415NotA503()
    {
        using var http = _host.CreateHttpClient();

        using var response = await PostAsync(http, "/v1/otlp/traces", [1, 2, 3], "text/plain", ApiKey(Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task Export_GrpcMalformedWhileRefusing_InvalidArgumentNotUnavailable()
    {
        var answer = await GrpcExportAsync(_host.CreateGrpcClient(), [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], ApiKey(Guid.NewGuid()));

        Assert.Equal(3, answer.GrpcStatus);
    }

    public void Dispose()
    {
        _host.Dispose();
        _kafka.Dispose();
    }

    private sealed class RefusingAdmission : IIngestAdmission
    {
        public ValueTask<AdmissionDecision> AdmitAsync(Guid projectId, OtlpSignal signal, CancellationToken cancellationToken)
            => ValueTask.FromResult(AdmissionDecision.Refuse("the processor is 2000000 records behind", TimeSpan.FromSeconds(30)));
    }
}
