using System.Net;
using System.Text;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Json;
using Trulayer.ServiceDefaults.Identity;
using Trulayer.Workload;
using static Trulayer.Ingest.Tests.OtlpClient;

namespace Trulayer.Ingest.Tests;

/// <summary>A dev broker and the real Ingest.Api on Kestrel, shared by one test class.</summary>
public sealed class IngestFixture : IDisposable
{
    public IngestFixture()
    {
        Kafka = new KafkaFixture();
        Host = new IngestHost(Kafka);
    }

    public KafkaFixture Kafka { get; }

    public IngestHost Host { get; }

    public void Dispose()
    {
        Host.Dispose();
        Kafka.Dispose();
    }
}

/// <summary>OTLP/HTTP export against the real service and a real broker: encodings, compression, identity, limits, status codes.</summary>
public sealed class HttpIngestTests(IngestFixture fixture) : IClassFixture<IngestFixture>
{
    private const string TracesPath = "/v1/otlp/traces";
    private const string CollectorPath = "/v1/otlp/v1/traces";

    private readonly HttpClient _client = fixture.Host.CreateHttpClient();

    private static void AssertSameSpans(IEnumerable<Span> expected, IEnumerable<Span> actual)
    {
        static string Id(Span s) => s.SpanId.ToBase64();
        Assert.Equal(expected.OrderBy(Id, StringComparer.Ordinal), actual.OrderBy(Id, StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(TracesPath)]
    [InlineData(CollectorPath)]
    public async Task Export_Protobuf_EveryTraceInKafkaUnderItsKey(string path)
    {
        var project = Guid.NewGuid();
        var request = StandardBatch.GenAi(spans: 120, traces: 4);

        using var response = await PostAsync(_client, path, request.ToByteArray(), Protobuf, ApiKey(project));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Protobuf, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(new ExportTraceServiceResponse(), await ReadResponseAsync(response));
        var records = RecordsOf(fixture.Kafka, project);
        Assert.Equal(4, records.Count);
        Assert.All(records, r => Assert.Equal($"{project}:{Convert.ToHexStringLower(r.Batch.TraceId.Span)}", r.Key));
        Assert.All(records, r => Assert.All(SpansOf([r]), s => Assert.Equal(r.Batch.TraceId, s.TraceId)));
        AssertSameSpans(SpansOf(request), SpansOf(records));
        Assert.Equal(request.ResourceSpans[0].Resource, records[0].Batch.ResourceSpans[0].Resource);
    }

    [Theory]
    [InlineData(TracesPath, "application/json")]
    [InlineData(CollectorPath, "application/json; charset=utf-8")]
    public async Task Export_Json_AcceptedAndAnsweredInJson(string path, string contentType)
    {
        var project = Guid.NewGuid();
        var request = StandardBatch.Lean(spans: 60, traces: 3);

        using var response = await PostAsync(_client, path, OtlpJson.SerializeExportTraceServiceRequest(request), contentType, ApiKey(project));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Json, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("{}", await response.Content.ReadAsStringAsync());
        var records = RecordsOf(fixture.Kafka, project);
        Assert.Equal(3, records.Count);
        AssertSameSpans(SpansOf(request), SpansOf(records));
    }

    [Fact]
    public async Task Export_TwoSignalSeedPayload_Accepted()
    {
        var project = Guid.NewGuid();
        var json = Encoding.UTF8.GetBytes(SeedPayloads.TwoSignalExample);

        using var response = await PostAsync(_client, TracesPath, json, Json, ApiKey(project));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (key, batch) = RecordsOf(fixture.Kafka, project).Single();
        Assert.Equal($"{project}:0af7651916cd43dd8448eb211c80319c", key);
        var span = SpansOf([(key, batch)]).Single();
        Assert.Equal("ChatCompletion", span.Name);
        Assert.Equal(150, span.Attributes.Single(a => a.Key == "gen_ai.usage.input_tokens").Value.IntValue);
        Assert.Equal("my-agent", batch.ResourceSpans[0].Resource.Attributes.Single().Value.StringValue);
        Assert.Equal("openai-instrumentation", batch.ResourceSpans[0].ScopeSpans[0].Scope.Name);
    }

    [Fact]
    public async Task Export_ActivityLogSmokeSpan_AcceptedWithAnEmptyResponse()
    {
        var project = Guid.NewGuid();

        using var response = await PostAsync(_client, CollectorPath, Encoding.UTF8.GetBytes(SeedPayloads.ActivityLogSmokeSpan), Json, ApiKey(project));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("{}", await response.Content.ReadAsStringAsync());
        var (key, batch) = RecordsOf(fixture.Kafka, project).Single();
        Assert.Equal($"{project}:5b8aa5a2d2c872e8321cf37308d69df2", key);
        Assert.Equal("smoke.test", SpansOf([(key, batch)]).Single().Name);
    }

    [Theory]
    [InlineData("gzip", Protobuf)]
    [InlineData("gzip", Json)]
    [InlineData("deflate", Protobuf)]
    [InlineData("deflate-raw", Json)]
    public async Task Export_CompressedBody_IsDecompressed(string coding, string contentType)
    {
        var project = Guid.NewGuid();
        var request = StandardBatch.GenAi(spans: 50, traces: 2);
        var body = contentType == Json ? OtlpJson.SerializeExportTraceServiceRequest(request) : request.ToByteArray();
        var compressed = coding switch
        {
            "gzip" => Gzip(body),
            "deflate" => Zlib(body),
            _ => RawDeflate(body),
        };

        using var response = await PostAsync(_client, TracesPath, compressed, contentType, ApiKey(project), coding == "gzip" ? "gzip" : "deflate");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertSameSpans(SpansOf(request), SpansOf(RecordsOf(fixture.Kafka, project)));
    }

    [Fact]
    public async Task Export_TraceLargerThanOneRecord_SplitsUnderOneKeyBelowOneMegabyte()
    {
        var project = Guid.NewGuid();
        var request = StandardBatch.GenAi(spans: 1500, traces: 1);

        using var response = await PostAsync(_client, TracesPath, Gzip(request.ToByteArray()), Protobuf, ApiKey(project), "gzip");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var records = RecordsOf(fixture.Kafka, project);
        Assert.True(records.Count >= 3, $"{records.Count} records");
        Assert.Single(records.Select(r => r.Key).Distinct());
        Assert.All(records, r => Assert.True(r.Batch.CalculateSize() < 1_000_000));
        AssertSameSpans(SpansOf(request), SpansOf(records));
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/xml")]
    [InlineData(null)]
    public async Task Export_UnsupportedMediaType_415(string? contentType)
    {
        using var response = await PostAsync(_client, TracesPath, [1, 2, 3], contentType, ApiKey(Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        var (code, message) = await ReadErrorAsync(response);
        Assert.Equal(3, code);
        Assert.Contains("application/x-protobuf or application/json", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_UnsupportedContentEncoding_415InTheRequestEncoding()
    {
        using var response = await PostAsync(_client, TracesPath, [1, 2, 3], Protobuf, ApiKey(Guid.NewGuid()), "br");

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        var (_, message) = await ReadErrorAsync(response);
        Assert.Contains("Content-Encoding 'br' is not supported", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_JsonInAnotherCharset_415()
    {
        using var response = await PostAsync(_client, TracesPath, "{}"u8.ToArray(), "application/json; charset=utf-16", ApiKey(Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("UTF-8", (await ReadErrorAsync(response)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_MalformedProtobuf_400WithAStatusBody()
    {
        using var response = await PostAsync(_client, TracesPath, [0x0A, 0x7F, 0x12, 0x00], Protobuf, ApiKey(Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var (code, message) = await ReadErrorAsync(response);
        Assert.Equal(3, code);
        Assert.StartsWith("invalid OTLP protobuf at resource_spans[0]", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_MalformedJson_400NamingThePath()
    {
        var json = """{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"not-hex"}]}]}]}"""u8.ToArray();

        using var response = await PostAsync(_client, CollectorPath, json, Json, ApiKey(Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var (code, message) = await ReadErrorAsync(response);
        Assert.Equal(3, code);
        Assert.Contains("resourceSpans[0].scopeSpans[0].spans[0].traceId", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_CorruptGzip_400()
    {
        var gzip = Gzip(StandardBatch.Lean(spans: 20, seed: 5).ToByteArray());
        gzip[^8] ^= 0xFF; // the CRC-32 of the trailer

        using var response = await PostAsync(_client, TracesPath, gzip, Protobuf, ApiKey(Guid.NewGuid()), "gzip");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not valid gzip", (await ReadErrorAsync(response)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_TruncatedGzip_400()
    {
        var project = Guid.NewGuid();
        var gzip = Gzip(StandardBatch.GenAi(spans: 20, seed: 5).ToByteArray());

        using var response = await PostAsync(_client, TracesPath, gzip[..(gzip.Length / 2)], Protobuf, ApiKey(project), "gzip");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("invalid OTLP protobuf", (await ReadErrorAsync(response)).Message, StringComparison.Ordinal);
        Assert.Empty(RecordsOf(fixture.Kafka, project));
    }

    [Theory]
    [InlineData(Protobuf)]
    [InlineData(Json)]
    public async Task Export_WithoutIdentity_401InTheRequestEncoding(string contentType)
    {
        using var response = await PostAsync(_client, TracesPath, [], contentType, identity: null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(contentType, response.Content.Headers.ContentType?.MediaType);
        var (code, message) = await ReadErrorAsync(response);
        Assert.Equal(16, code);
        Assert.Contains(IdentityAssertion.HeaderName, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_AssertionSignedWithAnotherKey_401()
    {
        var forged = new IdentityAssertionSigner(
            Microsoft.Extensions.Options.Options.Create(new IdentityOptions { AssertionKey = Convert.ToBase64String(new byte[32]) }), TimeProvider.System)
            .Sign(TestIdentity.ApiKey(Guid.NewGuid()));

        using var response = await PostAsync(_client, TracesPath, [], Protobuf, forged);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("signature", (await ReadErrorAsync(response)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_ViewerSession_403()
    {
        var project = Guid.NewGuid();
        var viewer = TestIdentity.Sign(TestIdentity.Session(Roles.Viewer, Guid.NewGuid(), project));

        using var response = await PostAsync(_client, $"{TracesPath}?project_id={project}", StandardBatch.Lean(spans: 1).ToByteArray(), Json, viewer);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var (code, message) = await ReadErrorAsync(response);
        Assert.Equal(7, code);
        Assert.Contains("viewer", message, StringComparison.Ordinal);
        Assert.Empty(RecordsOf(fixture.Kafka, project));
    }

    [Theory]
    [InlineData(Roles.Owner)]
    [InlineData(Roles.Member)]
    public async Task Export_SessionNamingItsProject_Accepted(string role)
    {
        var project = Guid.NewGuid();
        var session = TestIdentity.Sign(TestIdentity.Session(role, Guid.NewGuid(), Guid.NewGuid(), project));

        using var response = await PostAsync(_client, $"{CollectorPath}?project_id={project}", StandardBatch.Lean(spans: 5, traces: 1).ToByteArray(), Protobuf, session);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(5, SpansOf(RecordsOf(fixture.Kafka, project)).Count);
    }

    [Fact]
    public async Task Export_SessionWithoutProjectId_400SayingHowToNameIt()
    {
        var session = TestIdentity.Sign(TestIdentity.Session(Roles.Owner, Guid.NewGuid(), Guid.NewGuid()));

        using var response = await PostAsync(_client, TracesPath, StandardBatch.Lean(spans: 1).ToByteArray(), Protobuf, session);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("?project_id=", (await ReadErrorAsync(response)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_SessionNamingAnotherTenantsProject_404()
    {
        var foreign = Guid.NewGuid();
        var session = TestIdentity.Sign(TestIdentity.Session(Roles.Owner, Guid.NewGuid(), Guid.NewGuid()));

        using var response = await PostAsync(_client, $"{TracesPath}?project_id={foreign}", StandardBatch.Lean(spans: 1).ToByteArray(), Json, session);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var (code, message) = await ReadErrorAsync(response);
        Assert.Equal(5, code);
        Assert.Equal($"project {foreign} not found", message);
        Assert.Empty(RecordsOf(fixture.Kafka, foreign));
    }

    [Fact]
    public async Task Export_ApiKeyNamingAnotherProject_404()
    {
        var foreign = Guid.NewGuid();

        using var response = await PostAsync(_client, $"{TracesPath}?project_id={foreign}", StandardBatch.Lean(spans: 1).ToByteArray(), Protobuf, ApiKey(Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(RecordsOf(fixture.Kafka, foreign));
    }

    [Fact]
    public async Task Export_MalformedProjectId_400()
    {
        var session = TestIdentity.Sign(TestIdentity.Session(Roles.Owner, Guid.NewGuid(), Guid.NewGuid()));

        using var response = await PostAsync(_client, $"{TracesPath}?project_id=42", StandardBatch.Lean(spans: 1).ToByteArray(), Protobuf, session);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not a project id", (await ReadErrorAsync(response)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_BodyOver20MiB_413()
    {
        var body = new byte[(20 * 1024 * 1024) + 1];

        using var response = await PostAsync(_client, TracesPath, body, Protobuf, ApiKey(Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var (code, message) = await ReadErrorAsync(response);
        Assert.Equal(8, code);
        Assert.Contains("20 MiB after decompression", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_BodyFarOverTheLimit_413FromTheServiceNotKestrel()
    {
        var body = new byte[25 * 1024 * 1024];

        using var response = await PostAsync(_client, TracesPath, body, Json, ApiKey(Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(8, (await ReadErrorAsync(response)).Code);
    }

    [Fact]
    public async Task Export_BodyOverTheLimit_ClientWritesAllBeforeReading_ReadsThe413()
    {
        var body = new byte[25 * 1024 * 1024];

        var response = await RawHttpClient.PostWholeBodyThenReadAsync(fixture.Host.Http, TracesPath, body, new Dictionary<string, string>
        {
            [IdentityAssertion.HeaderName] = ApiKey(Guid.NewGuid()),
            ["Content-Type"] = Json,
        });

        Assert.Equal(413, response.Status);
        Assert.Contains("20 MiB after decompression", response.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_MoreThan10000Spans_413()
    {
        var project = Guid.NewGuid();

        using var response = await PostAsync(_client, TracesPath, StandardBatch.Lean(spans: 10_001).ToByteArray(), Protobuf, ApiKey(project));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("more than 10000 spans", (await ReadErrorAsync(response)).Message, StringComparison.Ordinal);
        Assert.Empty(RecordsOf(fixture.Kafka, project));
    }

    [Theory]
    [InlineData(Protobuf)]
    [InlineData(Json)]
    public async Task Export_SomeInvalidSpans_200WithPartialSuccess(string contentType)
    {
        var project = Guid.NewGuid();
        var request = StandardBatch.Lean(spans: 10, traces: 1);
        var spans = request.ResourceSpans[0].ScopeSpans[0].Spans;
        spans[3].TraceId = ByteString.CopyFrom(new byte[8]);
        spans[7].EndTimeUnixNano = spans[7].StartTimeUnixNano - 1;
        var body = contentType == Json ? OtlpJson.SerializeExportTraceServiceRequest(request) : request.ToByteArray();

        using var response = await PostAsync(_client, TracesPath, body, contentType, ApiKey(project));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await ReadResponseAsync(response);
        Assert.Equal(2, answer.PartialSuccess.RejectedSpans);
        Assert.Contains("2 of 10 spans rejected", answer.PartialSuccess.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("trace_id", answer.PartialSuccess.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("end_time_unix_nano before start_time_unix_nano", answer.PartialSuccess.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(8, SpansOf(RecordsOf(fixture.Kafka, project)).Count);
    }

    [Fact]
    public async Task Export_SpanOverTheLimits_AcceptedTruncatedWithAWarning()
    {
        var project = Guid.NewGuid();
        var request = StandardBatch.Lean(spans: 3, traces: 1);
        request.ResourceSpans[0].ScopeSpans[0].Spans[1].Attributes.Add(new KeyValue { Key = "gen_ai.prompt", Value = new AnyValue { StringValue = new string('p', 100_000) } });

        using var response = await PostAsync(_client, TracesPath, request.ToByteArray(), Protobuf, ApiKey(project));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await ReadResponseAsync(response);
        Assert.Equal(0, answer.PartialSuccess.RejectedSpans);
        Assert.StartsWith("Warning: 1 spans accepted truncated", answer.PartialSuccess.ErrorMessage, StringComparison.Ordinal);
        var prompt = SpansOf(RecordsOf(fixture.Kafka, project)).SelectMany(s => s.Attributes).Single(a => a.Key == "gen_ai.prompt");
        Assert.Equal(65_536, prompt.Value.StringValue.Length);
    }

    [Theory]
    [InlineData(Protobuf, "")]
    [InlineData(Json, "")]
    [InlineData(Json, "{}")]
    [InlineData(Json, "{\"resourceSpans\":[]}")]
    public async Task Export_EmptyRequest_200(string contentType, string body)
    {
        var project = Guid.NewGuid();

        using var response = await PostAsync(_client, TracesPath, Encoding.UTF8.GetBytes(body), contentType, ApiKey(project));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new ExportTraceServiceResponse(), await ReadResponseAsync(response));
        Assert.Empty(RecordsOf(fixture.Kafka, project));
    }

    [Fact]
    public async Task Export_Accepted_IsCountedOnTheIngestMeter()
    {
        var metrics = fixture.Host.Metrics;
        var acceptedBefore = metrics.Total("trulayer.ingest.spans.accepted");
        var bytesBefore = metrics.Total("trulayer.ingest.request.size");
        var producesBefore = metrics.Count("trulayer.ingest.produce.duration");
        var request = StandardBatch.Lean(spans: 30, traces: 2);
        request.ResourceSpans[0].ScopeSpans[0].Spans[0].SpanId = ByteString.Empty;

        using var response = await PostAsync(_client, TracesPath, request.ToByteArray(), Protobuf, ApiKey(Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(29, metrics.Total("trulayer.ingest.spans.accepted") - acceptedBefore);
        Assert.True(metrics.Total("trulayer.ingest.spans.rejected") >= 1);
        Assert.True(metrics.Total("trulayer.ingest.request.size") - bytesBefore >= request.CalculateSize());
        Assert.True(metrics.Count("trulayer.ingest.produce.duration") > producesBefore);
    }

    [Fact]
    public async Task Health_WithTheBroker_IsHealthy()
    {
        using var response = await _client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"kafka\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
