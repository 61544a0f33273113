using System.Net;
using System.Text;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Resource.V1;
using Trulayer.Otlp.Json;
using Trulayer.Otlp.Pipeline;
using Trulayer.Workload;
using static Trulayer.Ingest.Tests.OtlpClient;

namespace Trulayer.Ingest.Tests;

/// <summary>OTLP logs over HTTP and gRPC against the real service and a real broker; and the deliberate refusal of metrics.</summary>
public sealed class LogsIngestTests(IngestFixture fixture) : IClassFixture<IngestFixture>
{
    private const string LogsPath = "/v1/otlp/logs";
    private const string CollectorLogsPath = "/v1/otlp/v1/logs";

    private readonly HttpClient _client = fixture.Host.CreateHttpClient();

    private static IEnumerable<LogRecord> LogsIn(ExportLogsServiceRequest request)
        => request.ResourceLogs.SelectMany(r => r.ScopeLogs).SelectMany(s => s.LogRecords);

    private static IEnumerable<LogRecord> LogsIn(IEnumerable<(string Key, LogBatch Batch)> records)
        => records.SelectMany(r => r.Batch.ResourceLogs).SelectMany(r => r.ScopeLogs).SelectMany(s => s.LogRecords);

    private static void AssertSameRecords(IEnumerable<LogRecord> expected, IEnumerable<LogRecord> actual)
    {
        static string Id(LogRecord r) => r.ToByteString().ToBase64();
        Assert.Equal(expected.OrderBy(Id, StringComparer.Ordinal), actual.OrderBy(Id, StringComparer.Ordinal));
    }

    private static async Task<ExportLogsServiceResponse> ReadLogsResponseAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsByteArrayAsync();
        if (response.Content.Headers.ContentType?.MediaType != Json)
        {
            return ExportLogsServiceResponse.Parser.ParseFrom(body);
        }

        using var json = System.Text.Json.JsonDocument.Parse(body);
        var answer = new ExportLogsServiceResponse();
        if (json.RootElement.TryGetProperty("partialSuccess", out var partial))
        {
            answer.PartialSuccess = new ExportLogsPartialSuccess
            {
                RejectedLogRecords = partial.TryGetProperty("rejectedLogRecords", out var rejected) ? long.Parse(rejected.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : 0,
                ErrorMessage = partial.TryGetProperty("errorMessage", out var message) ? message.GetString()! : "",
            };
        }

        return answer;
    }

    private static LogRecord Record(string body, byte[]? traceId = null, byte[]? spanId = null) => new()
    {
        TimeUnixNano = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000,
        SeverityNumber = SeverityNumber.Info,
        Body = new AnyValue { StringValue = body },
        TraceId = traceId is null ? ByteString.Empty : ByteString.CopyFrom(traceId),
        SpanId = spanId is null ? ByteString.Empty : ByteString.CopyFrom(spanId),
    };

    private static ExportLogsServiceRequest Request(params LogRecord[] records)
        => new() { ResourceLogs = { new ResourceLogs { Resource = new Resource(), ScopeLogs = { new ScopeLogs { LogRecords = { records } } } } } };

    private static byte[] Id(int length, byte fill) => Enumerable.Repeat(fill, length).ToArray();

    [Theory]
    [InlineData(LogsPath)]
    [InlineData(CollectorLogsPath)]
    public async Task ExportLogs_Protobuf_EveryRecordInTheLogsTopicKeyedByTrace(string path)
    {
        var project = Guid.NewGuid();
        var organization = Guid.NewGuid();
        var request = StandardLogs.Application(records: 200, traces: 4);

        using var response = await PostAsync(_client, path, request.ToByteArray(), Protobuf, TestIdentity.Sign(TestIdentity.ApiKey(project, organization)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new ExportLogsServiceResponse(), await ReadLogsResponseAsync(response));
        var records = LogRecordsOf(fixture.Kafka, project);
        Assert.Equal(5, records.Count);
        Assert.All(records, r => Assert.Equal(organization.ToString(), r.Batch.OrganizationId));
        Assert.All(records, r => Assert.Equal(project.ToString(), r.Batch.ProjectId));
        var traced = records.Where(r => !r.Batch.TraceId.IsEmpty).ToList();
        Assert.Equal(4, traced.Count);
        Assert.All(traced, r => Assert.Equal($"{project}:{Convert.ToHexStringLower(r.Batch.TraceId.Span)}", r.Key));
        Assert.All(traced, r => Assert.All(LogsIn([r]), l => Assert.Equal(r.Batch.TraceId, l.TraceId)));
        var untraced = Assert.Single(records, r => r.Batch.TraceId.IsEmpty);
        Assert.Equal($"{project}:", untraced.Key);
        Assert.All(LogsIn([untraced]), l => Assert.True(l.TraceId.IsEmpty));
        AssertSameRecords(LogsIn(request), LogsIn(records));
        Assert.Equal(request.ResourceLogs[0].Resource, records[0].Batch.ResourceLogs[0].Resource);
        Assert.Empty(OtlpClient.RecordsOf(fixture.Kafka, project));
    }

    [Fact]
    public async Task ExportLogs_GzipJsonGenAiEvents_EventNameAndAttributeKeptByteForByte()
    {
        var project = Guid.NewGuid();
        var request = StandardLogs.GenAiEvents(StandardBatch.GenAi(spans: 30, traces: 3));
        var json = """{"resourceLogs":[{"scopeLogs":[{"logRecords":[""" + string.Join(',', LogsIn(request).Select(r => $$$"""
            {"timeUnixNano":"{{{r.TimeUnixNano}}}","observedTimeUnixNano":"{{{r.ObservedTimeUnixNano}}}","severityNumber":"SEVERITY_NUMBER_INFO","eventName":"{{{r.EventName}}}",
             "body":{"kvlistValue":{"values":[{"key":"content","value":{"stringValue":"hi"}}]}},
             "attributes":[{"key":"event.name","value":{"stringValue":"{{{r.EventName}}}"}}],
             "traceId":"{{{Convert.ToHexString(r.TraceId.Span)}}}","spanId":"{{{Convert.ToHexStringLower(r.SpanId.Span)}}}","flags":1}
            """)) + "]}]}]}";

        using var response = await PostAsync(_client, CollectorLogsPath, Gzip(Encoding.UTF8.GetBytes(json)), Json, ApiKey(project), "gzip");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Json, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(new ExportLogsServiceResponse(), await ReadLogsResponseAsync(response));
        var stored = LogsIn(LogRecordsOf(fixture.Kafka, project)).ToList();
        Assert.Equal(LogsIn(request).Count(), stored.Count);
        Assert.Equal(LogsIn(request).Select(r => r.EventName).Order(), stored.Select(r => r.EventName).Order());
        Assert.All(stored, r => Assert.Equal(r.EventName, r.Attributes.Single(a => a.Key == "event.name").Value.StringValue));
        Assert.Equal(OtlpJson.ParseExportLogsServiceRequest(Encoding.UTF8.GetBytes(json)).ResourceLogs[0].ScopeLogs[0].LogRecords.OrderBy(r => r.SpanId.ToBase64(), StringComparer.Ordinal),
            stored.OrderBy(r => r.SpanId.ToBase64(), StringComparer.Ordinal));
    }

    [Fact]
    public async Task ExportLogs_InvalidIds_RejectedWithTheirReasons_TheRestStored()
    {
        var project = Guid.NewGuid();
        var good = Record("good", Id(16, 7), Id(8, 7));
        var zeroTrace = Record("all-zero trace id means none", Id(16, 0));
        var request = Request(
            good,
            Record("short trace", Id(5, 1)),
            Record("long span", Id(16, 2), Id(9, 2)),
            Record("span without trace", null, Id(8, 3)),
            zeroTrace);

        using var response = await PostAsync(_client, LogsPath, request.ToByteArray(), Protobuf, ApiKey(project));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var partial = (await ReadLogsResponseAsync(response)).PartialSuccess;
        Assert.Equal(3, partial.RejectedLogRecords);
        Assert.Contains("3 of 5 log records rejected", partial.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("1 with a trace_id that is neither empty nor 16 bytes", partial.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("1 with a span_id that is neither empty nor 8 bytes", partial.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("1 with a span_id but no trace_id", partial.ErrorMessage, StringComparison.Ordinal);
        AssertSameRecords([good, zeroTrace], LogsIn(LogRecordsOf(fixture.Kafka, project)));
    }

    [Fact]
    public async Task ExportLogs_OverTheValueAndAttributeLimits_CutAndWarned()
    {
        var project = Guid.NewGuid();
        var record = Record(new string('b', 70 * 1024), Id(16, 4), Id(8, 4));
        for (var i = 0; i < 130; i++)
        {
            record.Attributes.Add(new KeyValue { Key = $"k{i}", Value = new AnyValue { StringValue = i == 0 ? new string('v', 65 * 1024) : "v" } });
        }

        using var response = await PostAsync(_client, LogsPath, Request(record).ToByteArray(), Protobuf, ApiKey(project));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var partial = (await ReadLogsResponseAsync(response)).PartialSuccess;
        Assert.Equal(0, partial.RejectedLogRecords);
        Assert.Contains("Warning: 1 log records accepted truncated", partial.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("with a body over 65536 bytes (cut)", partial.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("with more than 128 attributes", partial.ErrorMessage, StringComparison.Ordinal);
        var stored = Assert.Single(LogsIn(LogRecordsOf(fixture.Kafka, project)));
        Assert.Equal(64 * 1024, stored.Body.StringValue.Length);
        Assert.Equal(128, stored.Attributes.Count);
        Assert.Equal(2U, stored.DroppedAttributesCount);
        Assert.Equal(64 * 1024, stored.Attributes[0].Value.StringValue.Length);
    }

    [Fact]
    public async Task ExportLogs_ResourceWithTooManyAttributes_ItsRecordsRejected()
    {
        var project = Guid.NewGuid();
        var crowded = new Resource();
        for (var i = 0; i < 257; i++)
        {
            crowded.Attributes.Add(new KeyValue { Key = $"r{i}", Value = new AnyValue { IntValue = i } });
        }

        var kept = Record("kept", Id(16, 5));
        var request = new ExportLogsServiceRequest
        {
            ResourceLogs =
            {
                new ResourceLogs { Resource = crowded, ScopeLogs = { new ScopeLogs { LogRecords = { Record("dropped", Id(16, 5)) } } } },
                new ResourceLogs { Resource = new Resource(), ScopeLogs = { new ScopeLogs { LogRecords = { kept } } } },
            },
        };

        using var response = await PostAsync(_client, LogsPath, request.ToByteArray(), Protobuf, ApiKey(project));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var partial = (await ReadLogsResponseAsync(response)).PartialSuccess;
        Assert.Equal(1, partial.RejectedLogRecords);
        Assert.Contains("under a resource with more than 256 attributes", partial.ErrorMessage, StringComparison.Ordinal);
        AssertSameRecords([kept], LogsIn(LogRecordsOf(fixture.Kafka, project)));
    }

    [Fact]
    public async Task ExportLogs_MoreThan10000Records_413NamingLogRecords()
    {
        var project = Guid.NewGuid();
        var request = Request([.. Enumerable.Range(0, 10_001).Select(i => Record("r"))]);

        using var response = await PostAsync(_client, CollectorLogsPath, request.ToByteArray(), Protobuf, ApiKey(project));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var (_, message) = await ReadErrorAsync(response);
        Assert.Contains("more than 10000 log records", message, StringComparison.Ordinal);
        Assert.Empty(LogRecordsOf(fixture.Kafka, project));
    }

    [Fact]
    public async Task ExportLogs_MalformedProtobuf_400NamingTheLogRecord()
    {
        var good = Request(Record("x")).ToByteArray();
        var broken = good[..^3];

        using var response = await PostAsync(_client, LogsPath, broken, Protobuf, ApiKey(Guid.NewGuid()));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var (_, message) = await ReadErrorAsync(response);
        Assert.Contains("resource_logs[0]", message, StringComparison.Ordinal);
        Assert.Contains("ExportLogsServiceRequest", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExportLogs_WithoutIdentity_401()
    {
        using var response = await PostAsync(_client, LogsPath, Request(Record("x")).ToByteArray(), Protobuf, identity: null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task GrpcLogsExport_RecordsInKafka_PartialSuccessAsExportLogsServiceResponse()
    {
        var project = Guid.NewGuid();
        using var grpc = fixture.Host.CreateGrpcClient();
        var good = Record("over gRPC", Id(16, 6), Id(8, 6));
        var request = Request(good, Record("bad", Id(3, 6)));

        var answer = await GrpcExportAsync(grpc, request.ToByteArray(), ApiKey(project), gzip: true, path: Grpc.OtlpGrpcApi.LogsExportPath);

        Assert.Equal(0, answer.GrpcStatus);
        var response = ExportLogsServiceResponse.Parser.ParseFrom(answer.Message);
        Assert.Equal(1, response.PartialSuccess.RejectedLogRecords);
        Assert.Contains("trace_id", response.PartialSuccess.ErrorMessage, StringComparison.Ordinal);
        AssertSameRecords([good], LogsIn(LogRecordsOf(fixture.Kafka, project)));
    }

    [Theory]
    [InlineData("/v1/otlp/metrics", Protobuf)]
    [InlineData("/v1/otlp/v1/metrics", Protobuf)]
    [InlineData("/v1/otlp/v1/metrics", Json)]
    public async Task ExportMetrics_RefusedPermanentlyWithTheReason(string path, string contentType)
    {
        using var response = await PostAsync(_client, path, [], contentType, ApiKey(Guid.NewGuid()));

        // 404: not one of the statuses OTLP clients retry (429, 502, 503, 504), nor a 5xx some SDKs retry.
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(contentType, response.Content.Headers.ContentType?.MediaType);
        var (code, message) = await ReadErrorAsync(response);
        Assert.Equal((int)Otlp.GrpcStatusCode.NotFound, code);
        Assert.Contains("does not accept OTLP metrics", message, StringComparison.Ordinal);
        Assert.Contains("from the spans", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GrpcMetricsExport_Unimplemented_WithTheReason()
    {
        using var grpc = fixture.Host.CreateGrpcClient();

        var answer = await GrpcExportAsync(grpc, [], ApiKey(Guid.NewGuid()), path: Grpc.OtlpGrpcApi.MetricsExportPath);

        Assert.Equal((int)Otlp.GrpcStatusCode.Unimplemented, answer.GrpcStatus);
        Assert.Contains("does not accept OTLP metrics", answer.GrpcMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExportTraces_StampsTheCallersOrganization()
    {
        var project = Guid.NewGuid();
        var organization = Guid.NewGuid();

        using var response = await PostAsync(_client, "/v1/otlp/v1/traces", StandardBatch.Lean(spans: 10, traces: 2).ToByteArray(), Protobuf,
            TestIdentity.Sign(TestIdentity.ApiKey(project, organization)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var records = OtlpClient.RecordsOf(fixture.Kafka, project);
        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.Equal(organization.ToString(), r.Batch.OrganizationId));
        Assert.Empty(LogRecordsOf(fixture.Kafka, project));
    }
}

/// <summary>The load tool's logs payloads (--signal logs and mixed), stamped as a run stamps them, through the real service.</summary>
public sealed class LogsLoadTemplateTests(IngestFixture fixture) : IClassFixture<IngestFixture>
{
    private readonly HttpClient _client = fixture.Host.CreateHttpClient();

    [Fact]
    public async Task MixedTemplates_EventsNameTheSpansOfTheSameRequest_AndAreAccepted()
    {
        var settings = new Workload.Load.LoadSettings { Signal = Workload.Load.LoadSignal.Mixed, SpansPerRequest = 60 };
        var spans = settings.CreateTemplate();
        var events = settings.CreateEventsTemplate()!;
        var ids = Workload.Load.RunIds.NewRun();
        var spanBuffer = spans.NewBuffer();
        var eventBuffer = events.NewBuffer();
        spans.Stamp(spanBuffer, ids, 7);
        events.Stamp(eventBuffer, ids, 7);

        var sentSpans = OpenTelemetry.Proto.Collector.Trace.V1.ExportTraceServiceRequest.Parser.ParseFrom(spanBuffer)
            .ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).ToDictionary(s => s.SpanId, s => s.TraceId);
        var sentEvents = ExportLogsServiceRequest.Parser.ParseFrom(eventBuffer).ResourceLogs.SelectMany(r => r.ScopeLogs).SelectMany(s => s.LogRecords).ToList();
        Assert.Equal(40, sentEvents.Count);
        Assert.Equal(events.SpanCount, sentEvents.Count);
        Assert.All(sentEvents, e => Assert.Equal(sentSpans[e.SpanId], e.TraceId));

        var project = Guid.NewGuid();
        using var response = await PostAsync(_client, "/v1/otlp/v1/logs", eventBuffer, Protobuf, ApiKey(project));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(40, LogRecordsOf(fixture.Kafka, project).Sum(r => r.Batch.ResourceLogs.SelectMany(l => l.ScopeLogs).Sum(s => s.LogRecords.Count)));
    }

    [Theory]
    [InlineData(Workload.Load.LoadTransport.HttpProtobuf, Protobuf)]
    [InlineData(Workload.Load.LoadTransport.HttpJson, Json)]
    public async Task LogsTemplate_StampedTwice_FreshIdsEachTime_AndAccepted(Workload.Load.LoadTransport transport, string contentType)
    {
        var template = new Workload.Load.LoadSettings { Signal = Workload.Load.LoadSignal.Logs, Transport = transport, SpansPerRequest = 50 }.CreateTemplate();
        var ids = Workload.Load.RunIds.NewRun();
        var first = template.NewBuffer();
        var second = template.NewBuffer();
        template.Stamp(first, ids, 1);
        template.Stamp(second, ids, 2);
        var project = Guid.NewGuid();

        using var one = await PostAsync(_client, "/v1/otlp/v1/logs", first, contentType, ApiKey(project));
        using var two = await PostAsync(_client, "/v1/otlp/v1/logs", second, contentType, ApiKey(project));

        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        Assert.Equal(HttpStatusCode.OK, two.StatusCode);
        var stored = LogRecordsOf(fixture.Kafka, project).SelectMany(r => r.Batch.ResourceLogs).SelectMany(r => r.ScopeLogs).SelectMany(s => s.LogRecords).ToList();
        Assert.Equal(100, stored.Count);
        Assert.Equal(80, stored.Where(r => !r.TraceId.IsEmpty).Select(r => r.SpanId).Distinct().Count());
        Assert.Equal(20, stored.Count(r => r.TraceId.IsEmpty));
    }
}
