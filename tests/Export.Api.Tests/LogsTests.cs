using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Google.Protobuf;
using Npgsql;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Resource.V1;
using Trulayer.Export.Http;
using Trulayer.Otlp.Pipeline;
using Trulayer.ServiceDefaults.Identity;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.Export.Tests;

/// <summary>
/// The log routes over records the stack's real processor stored: LogBatch records are produced to the
/// stack's broker as ingest produces them (the gateway's log routes are the ingest side's), then read
/// straight from Export.Api as a session.
/// </summary>
[Collection(ExportCollection.Name)]
public sealed class LogsTests(ExportStack stack)
{
    private static readonly MediaTypeWithQualityHeaderValue Protobuf = new("application/x-protobuf");

    [Fact]
    public async Task TraceLogs_AsProtobuf_EveryRecordByteForByte()
    {
        var (caller, project) = NewCaller();
        var trace = RandomBytes(16);
        var start = DateTimeOffset.UtcNow.AddMinutes(-3);
        var batch = VariedBatch(project, trace, start);
        var expected = Records(batch).Select(r => r.ToByteString()).ToHashSet();

        await ProduceAndWaitAsync(project, expected.Count, batch);
        using var response = await stack.GetDirectAsync($"/v1/traces/{Convert.ToHexStringLower(trace.Span)}/logs", caller, r => r.Headers.Accept.Add(Protobuf));
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-protobuf", response.Content.Headers.ContentType?.MediaType);
        var data = LogsData.Parser.ParseFrom(body);
        Assert.Equal(expected, data.ResourceLogs.SelectMany(r => r.ScopeLogs).SelectMany(s => s.LogRecords).Select(r => r.ToByteString()).ToHashSet());
        Assert.Equal(expected.Count, data.ResourceLogs.SelectMany(r => r.ScopeLogs).Sum(s => s.LogRecords.Count));
        Assert.Equal(batch.ResourceLogs.Select(r => (r.Resource, r.SchemaUrl)).ToHashSet(), data.ResourceLogs.Select(r => (r.Resource, r.SchemaUrl)).ToHashSet());
        Assert.Equal(
            batch.ResourceLogs.SelectMany(r => r.ScopeLogs).Select(s => (s.Scope, s.SchemaUrl)).ToHashSet(),
            data.ResourceLogs.SelectMany(r => r.ScopeLogs).Select(s => (s.Scope, s.SchemaUrl)).ToHashSet());
    }

    [Fact]
    public async Task TraceLogs_AsJson_EveryFieldInOtlpJson()
    {
        var (caller, project) = NewCaller();
        var trace = RandomBytes(16);
        var span = RandomBytes(8);
        var time = DateTimeOffset.UtcNow.AddMinutes(-2);
        var record = Log(time, "ignored", trace, span, SeverityNumber.Warn2);
        record.Body = new AnyValue { KvlistValue = new KeyValueList { Values = { new KeyValue { Key = "content", Value = new AnyValue { StringValue = "Hi there" } } } } };
        record.SeverityText = "WARNING";
        record.EventName = "gen_ai.user.message";
        record.Flags = 1;
        record.DroppedAttributesCount = 2;
        record.Attributes.Add(new KeyValue { Key = "gen_ai.system", Value = new AnyValue { StringValue = "openai" } });
        var batch = Batch(project, trace, "chat", [record]);

        await ProduceAndWaitAsync(project, 1, batch);
        using var response = await stack.GetDirectAsync($"/v1/traces/{Convert.ToHexStringLower(trace.Span)}/logs", caller);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var resourceLogs = JsonDocument.Parse(text).RootElement.GetProperty("resourceLogs").EnumerateArray().Single();
        Assert.Equal("service.name", resourceLogs.GetProperty("resource").GetProperty("attributes")[0].GetProperty("key").GetString());
        var scopeLogs = resourceLogs.GetProperty("scopeLogs").EnumerateArray().Single();
        Assert.Equal("test.logs", scopeLogs.GetProperty("scope").GetProperty("name").GetString());
        Assert.Equal("https://opentelemetry.io/schemas/1.36.0", scopeLogs.GetProperty("schemaUrl").GetString());
        var json = scopeLogs.GetProperty("logRecords").EnumerateArray().Single();
        Assert.Equal(record.TimeUnixNano.ToString(System.Globalization.CultureInfo.InvariantCulture), json.GetProperty("timeUnixNano").GetString());
        Assert.Equal(record.ObservedTimeUnixNano.ToString(System.Globalization.CultureInfo.InvariantCulture), json.GetProperty("observedTimeUnixNano").GetString());
        Assert.Equal(14, json.GetProperty("severityNumber").GetInt32());
        Assert.Equal("WARNING", json.GetProperty("severityText").GetString());
        Assert.Equal("Hi there", json.GetProperty("body").GetProperty("kvlistValue").GetProperty("values")[0].GetProperty("value").GetProperty("stringValue").GetString());
        Assert.Equal(["test.attribute", "gen_ai.system"], json.GetProperty("attributes").EnumerateArray().Select(a => a.GetProperty("key").GetString()));
        Assert.Equal("7", json.GetProperty("attributes")[0].GetProperty("value").GetProperty("intValue").GetString());
        Assert.Equal(2, json.GetProperty("droppedAttributesCount").GetInt32());
        Assert.Equal(1, json.GetProperty("flags").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(trace.Span), json.GetProperty("traceId").GetString());
        Assert.Equal(Convert.ToHexStringLower(span.Span), json.GetProperty("spanId").GetString());
        Assert.Equal("gen_ai.user.message", json.GetProperty("eventName").GetString());
    }

    [Fact]
    public async Task TraceLogs_OfATraceWithoutRecords_IsAnEmptyLogsData()
    {
        var (caller, _) = NewCaller();

        using var response = await stack.GetDirectAsync($"/v1/traces/{Convert.ToHexStringLower(RandomBytes(16).Span)}/logs", caller);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"resourceLogs":[]}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Export_PagedWithCursor_EachRecordOnce_RecordsStoredMeanwhileNotInTheSnapshot()
    {
        var (caller, project) = NewCaller();
        var trace = RandomBytes(16);
        var start = DateTimeOffset.UtcNow.AddMinutes(-20);
        var records = Enumerable.Range(0, 25).Select(i => Log(start.AddMilliseconds(i * 10), $"line {i}", trace, RandomBytes(8))).ToList();
        await ProduceAndWaitAsync(project, 25, Batch(project, trace, "api", records));
        var window = $"from={Uri.EscapeDataString(start.AddMinutes(-1).ToString("O"))}&to={Uri.EscapeDataString(start.AddMinutes(1).ToString("O"))}";

        var seen = new List<ByteString>();
        var (page, cursor) = await ExportPageAsync(caller, $"{window}&limit=10", null);
        seen.AddRange(page);
        var late = Log(start.AddMilliseconds(5), "stored after the first page", trace);
        await ProduceAndWaitAsync(project, 26, Batch(project, trace, "api", [late]));
        var pages = 1;
        while (cursor is not null)
        {
            (page, cursor) = await ExportPageAsync(caller, $"{window}&limit=10", cursor);
            seen.AddRange(page);
            pages++;
        }

        Assert.Equal(3, pages);
        Assert.Equal(records.Select(r => r.ToByteString()).ToHashSet(), seen.ToHashSet());
        Assert.Equal(25, seen.Count);
        var (all, _) = await ExportPageAsync(caller, window, null);
        Assert.Equal(26, all.Count);
    }

    [Fact]
    public async Task Export_Gzip_CompressesTheStream()
    {
        var (caller, project) = NewCaller();
        var trace = RandomBytes(16);
        var start = DateTimeOffset.UtcNow.AddMinutes(-30);
        await ProduceAndWaitAsync(project, 50, Batch(project, trace, "api", Enumerable.Range(0, 50).Select(i => Log(start.AddMilliseconds(i), $"gzip line {i}", trace)).ToList()));

        using var response = await stack.GetDirectAsync(
            $"{LogsApi.ExportPath}?from={Uri.EscapeDataString(start.AddMinutes(-1).ToString("O"))}&to={Uri.EscapeDataString(start.AddMinutes(1).ToString("O"))}", caller,
            r => r.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("gzip", Assert.Single(response.Content.Headers.ContentEncoding));
        await using var gzip = new GZipStream(await response.Content.ReadAsStreamAsync(), CompressionMode.Decompress);
        using var document = await JsonDocument.ParseAsync(gzip);
        Assert.Equal(50, document.RootElement.GetProperty("resourceLogs")[0].GetProperty("scopeLogs")[0].GetProperty("logRecords").GetArrayLength());
    }

    [Fact]
    public async Task List_NewestFirst_FiltersAndKeysetPaging()
    {
        var (caller, project) = NewCaller();
        var trace = RandomBytes(16);
        var other = RandomBytes(16);
        var start = DateTimeOffset.UtcNow.AddMinutes(-40);
        var severities = new[] { SeverityNumber.Debug, SeverityNumber.Info, SeverityNumber.Warn, SeverityNumber.Error, SeverityNumber.Fatal };
        var records = Enumerable.Range(0, 10).Select(i => Log(start.AddSeconds(i), $"request {i} {(i % 2 == 0 ? "timeout_50%" : "ok")}", trace, severity: severities[i % 5])).ToList();
        await ProduceAndWaitAsync(project, 12, Batch(project, trace, "api", records),
            Batch(project, other, "worker", [Log(start.AddSeconds(20), "worker started", other), Log(start.AddSeconds(21), "worker failed", other, severity: SeverityNumber.Error)]));
        var window = $"from={Uri.EscapeDataString(start.AddMinutes(-1).ToString("O"))}&to={Uri.EscapeDataString(start.AddMinutes(1).ToString("O"))}";

        var all = await ListAsync(caller, window);
        Assert.Equal(["worker failed", "worker started", .. Enumerable.Range(0, 10).Reverse().Select(i => records[i].Body.StringValue)], all.Select(e => e.GetProperty("body").GetString()));
        var first = all[0];
        Assert.Equal("error", first.GetProperty("severity").GetString());
        Assert.Equal("worker", first.GetProperty("service").GetString());
        Assert.Equal(Convert.ToHexStringLower(other.Span), first.GetProperty("traceId").GetString());
        Assert.Equal(project, first.GetProperty("projectId").GetGuid());

        Assert.Equal(7, (await ListAsync(caller, $"{window}&severity=WARN")).Count);
        Assert.Equal(10, (await ListAsync(caller, $"{window}&service=api")).Count);
        Assert.Equal(10, (await ListAsync(caller, $"{window}&trace_id={Convert.ToHexStringLower(trace.Span)}")).Count);
        Assert.Equal(5, (await ListAsync(caller, $"{window}&q={Uri.EscapeDataString("TIMEOUT_50%")}")).Count);
        Assert.Empty(await ListAsync(caller, $"{window}&q={Uri.EscapeDataString("timeout_5_%")}"));
        Assert.Equal(["request 8 timeout_50%", "request 4 timeout_50%"],
            (await ListAsync(caller, $"{window}&severity=error&q=timeout")).Select(e => e.GetProperty("body").GetString()));

        var paged = new List<string?>();
        string? cursor = null;
        do
        {
            using var response = await stack.GetDirectAsync($"{LogsApi.ListPath}?{window}&limit=5" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}"), caller);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            paged.AddRange(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("logs").EnumerateArray().Select(e => e.GetProperty("body").GetString()));
            cursor = response.Headers.TryGetValues(ExportApi.NextCursorHeader, out var values) ? values.Single() : null;
        }
        while (cursor is not null);

        Assert.Equal(all.Select(e => e.GetProperty("body").GetString()), paged);
    }

    [Fact]
    public async Task EveryRoute_OnlyTheCallersProjects()
    {
        var (owner, project) = NewCaller();
        var (stranger, _) = NewCaller();
        var trace = RandomBytes(16);
        var start = DateTimeOffset.UtcNow.AddMinutes(-50);
        await ProduceAndWaitAsync(project, 1, Batch(project, trace, "api", [Log(start, "private line", trace)]));
        var window = $"from={Uri.EscapeDataString(start.AddMinutes(-1).ToString("O"))}&to={Uri.EscapeDataString(start.AddMinutes(1).ToString("O"))}";

        Assert.Single(await ListAsync(owner, window));
        Assert.Empty(await ListAsync(stranger, window));
        Assert.Single((await ExportPageAsync(owner, window, null)).Records);
        Assert.Empty((await ExportPageAsync(stranger, window, null)).Records);
        using (var response = await stack.GetDirectAsync($"/v1/traces/{Convert.ToHexStringLower(trace.Span)}/logs", stranger))
        {
            Assert.Equal("""{"resourceLogs":[]}""", await response.Content.ReadAsStringAsync());
        }

        foreach (var path in new[] { $"{LogsApi.ListPath}?{window}&project_id={project}", $"{LogsApi.ExportPath}?{window}&project_id={project}", $"/v1/traces/{Convert.ToHexStringLower(trace.Span)}/logs?project_id={project}" })
        {
            using var response = await stack.GetDirectAsync(path, stranger);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        var key = new CallerIdentity(CallerKind.ApiKey, Guid.NewGuid(), [project], ApiKeyId: Guid.NewGuid());
        using (var response = await stack.GetDirectAsync($"{LogsApi.ListPath}?{window}", key))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }
    }

    [Theory]
    [InlineData(LogsApi.ListPath + "?to=2026-04-21T00:00:00Z", "from")]
    [InlineData(LogsApi.ListPath + "?from=2026-04-20T00:00:00Z&to=tomorrow", "to")]
    [InlineData(LogsApi.ListPath + "?from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z&severity=loud", "severity")]
    [InlineData(LogsApi.ListPath + "?from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z&trace_id=abc", "trace_id")]
    [InlineData(LogsApi.ListPath + "?from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z&limit=0", "limit")]
    [InlineData(LogsApi.ListPath + "?from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z&project_id=x", "project_id")]
    [InlineData(LogsApi.ListPath + "?from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z&cursor=AAAA", "cursor")]
    [InlineData(LogsApi.ExportPath + "?from=2026-04-20T00:00:00Z", "to")]
    [InlineData(LogsApi.ExportPath + "?from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z&limit=10001", "limit")]
    [InlineData(LogsApi.ExportPath + "?from=2026-01-01T00:00:00Z&to=2026-04-21T00:00:00Z", "window")]
    [InlineData(LogsApi.ExportPath + "?from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z&cursor=AAAA", "cursor")]
    [InlineData("/v1/traces/xyz/logs", "traceId")]
    public async Task BadParameter_Is400NamingIt(string path, string parameter)
    {
        var (caller, _) = NewCaller();

        using var response = await stack.GetDirectAsync(path, caller);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(parameter, await ParameterTests.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListCursor_WithAnotherFilter_Is400()
    {
        var (caller, project) = NewCaller();
        var trace = RandomBytes(16);
        var start = DateTimeOffset.UtcNow.AddMinutes(-60);
        await ProduceAndWaitAsync(project, 3, Batch(project, trace, "api", Enumerable.Range(0, 3).Select(i => Log(start.AddSeconds(i), $"l{i}", trace)).ToList()));
        var window = $"from={Uri.EscapeDataString(start.AddMinutes(-1).ToString("O"))}&to={Uri.EscapeDataString(start.AddMinutes(1).ToString("O"))}";
        using var first = await stack.GetDirectAsync($"{LogsApi.ListPath}?{window}&limit=1", caller);
        var cursor = first.Headers.GetValues(ExportApi.NextCursorHeader).Single();

        using var response = await stack.GetDirectAsync($"{LogsApi.ListPath}?{window}&limit=1&severity=info&cursor={Uri.EscapeDataString(cursor)}", caller);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("cursor belongs to another query", await ParameterTests.ErrorAsync(response), StringComparison.Ordinal);
    }

    private static (CallerIdentity Caller, Guid Project) NewCaller()
    {
        var project = Guid.NewGuid();
        return (new CallerIdentity(CallerKind.Session, Guid.NewGuid(), [project], Roles.Viewer, "logs_" + Guid.NewGuid().ToString("N")[..8]), project);
    }

    private async Task<List<JsonElement>> ListAsync(CallerIdentity caller, string query)
    {
        using var response = await stack.GetDirectAsync($"{LogsApi.ListPath}?{query}", caller);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {text}");
        return [.. JsonDocument.Parse(text).RootElement.GetProperty("logs").EnumerateArray().Select(e => e.Clone())];
    }

    private async Task<(List<ByteString> Records, string? Cursor)> ExportPageAsync(CallerIdentity caller, string query, string? cursor)
    {
        using var response = await stack.GetDirectAsync($"{LogsApi.ExportPath}?{query}" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}"), caller,
            r => r.Headers.Accept.Add(Protobuf));
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {Encoding.UTF8.GetString(body)}");
        var data = LogsData.Parser.ParseFrom(body);
        return ([.. data.ResourceLogs.SelectMany(r => r.ScopeLogs).SelectMany(s => s.LogRecords).Select(r => r.ToByteString())],
            response.Headers.TryGetValues(ExportApi.NextCursorHeader, out var values) ? values.Single() : null);
    }

    private async Task ProduceAndWaitAsync(Guid project, long count, params LogBatch[] batches)
    {
        var factory = new KafkaClientFactory(
            Microsoft.Extensions.Options.Options.Create(new KafkaOptions { BootstrapServers = stack.App.GetConnectionString("kafka") }),
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        using (var producer = factory.CreateProducer<byte[]?, byte[]?>("export-tests"))
        {
            foreach (var batch in batches)
            {
                await producer.ProduceAsync(KafkaTopics.Logs, new Message<byte[]?, byte[]?>
                {
                    Key = Encoding.UTF8.GetBytes($"{batch.ProjectId}:{Convert.ToHexStringLower(batch.TraceId.Span)}"),
                    Value = batch.ToByteArray(),
                });
            }
        }

        var deadline = DateTime.UtcNow.AddSeconds(90);
        long stored = 0;
        while (DateTime.UtcNow < deadline)
        {
            await using var command = stack.Database.CreateCommand("SELECT count(*) FROM telemetry.logs WHERE project_id = $1");
            command.Parameters.Add(new NpgsqlParameter { Value = project });
            stored = (long)(await command.ExecuteScalarAsync())!;
            if (stored >= count)
            {
                Assert.Equal(count, stored);
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"the processor stored {stored} of {count} log records of project {project}");
    }

    private static IEnumerable<LogRecord> Records(LogBatch batch) => batch.ResourceLogs.SelectMany(r => r.ScopeLogs).SelectMany(s => s.LogRecords);

    /// <summary>Two resources, three scopes, bodies of every kind, an unknown field: what a lossless store must keep.</summary>
    private static LogBatch VariedBatch(Guid project, ByteString trace, DateTimeOffset start)
    {
        var batch = Batch(project, trace, "api", [Log(start, "plain", trace, RandomBytes(8))]);
        var bodies = new AnyValue[]
        {
            new() { IntValue = -42 },
            new() { DoubleValue = 0.1 },
            new() { BoolValue = true },
            new() { BytesValue = ByteString.CopyFrom(0, 1, 2, 255) },
            new() { ArrayValue = new ArrayValue { Values = { new AnyValue { StringValue = "a" }, new AnyValue { IntValue = 1 } } } },
            new() { StringValue = "unicode ✓ \u00e9" },
        };
        var scope = new ScopeLogs { Scope = new InstrumentationScope { Name = "second.scope", Attributes = { new KeyValue { Key = "k", Value = new AnyValue { StringValue = "v" } } } } };
        foreach (var (body, i) in bodies.Select((b, i) => (b, i)))
        {
            var record = Log(start.AddMilliseconds(i + 1), "", trace, RandomBytes(8), SeverityNumber.Debug + i);
            record.Body = body;
            scope.LogRecords.Add(record);
        }

        var withEvent = Log(start.AddMilliseconds(20), "event", trace, RandomBytes(8));
        withEvent.EventName = "gen_ai.choice";
        // An unknown field (99, varint 1): kept because the stored bytes are the bytes received.
        var unknown = LogRecord.Parser.ParseFrom([.. withEvent.ToByteArray(), 0x98, 0x06, 0x01]);
        scope.LogRecords.Add(unknown);
        batch.ResourceLogs[0].ScopeLogs.Add(scope);
        batch.ResourceLogs.Add(new ResourceLogs
        {
            Resource = new Resource { Attributes = { new KeyValue { Key = "service.name", Value = new AnyValue { StringValue = "worker" } } }, DroppedAttributesCount = 1 },
            SchemaUrl = "https://opentelemetry.io/schemas/1.37.0",
            ScopeLogs = { new ScopeLogs { LogRecords = { Log(start.AddMilliseconds(30), "no scope", trace) } } },
        });
        return batch;
    }

    private static LogBatch Batch(Guid project, ByteString trace, string service, IReadOnlyList<LogRecord> records)
    {
        var scopeLogs = new ScopeLogs { Scope = new InstrumentationScope { Name = "test.logs", Version = "1.0" }, SchemaUrl = "https://opentelemetry.io/schemas/1.36.0" };
        scopeLogs.LogRecords.AddRange(records);
        return new LogBatch
        {
            ProjectId = project.ToString(),
            TraceId = trace,
            ReceivedTimeUnixNano = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000,
            ResourceLogs =
            {
                new ResourceLogs
                {
                    Resource = new Resource { Attributes = { new KeyValue { Key = "service.name", Value = new AnyValue { StringValue = service } } } },
                    ScopeLogs = { scopeLogs },
                },
            },
        };
    }

    private static LogRecord Log(DateTimeOffset time, string body, ByteString? trace = null, ByteString? span = null, SeverityNumber severity = SeverityNumber.Info)
    {
        var nanos = (ulong)(time - DateTimeOffset.UnixEpoch).Ticks * 100;
        var record = new LogRecord
        {
            TimeUnixNano = nanos + 17,
            ObservedTimeUnixNano = nanos + 1000,
            SeverityNumber = severity,
            Body = new AnyValue { StringValue = body },
            Attributes = { new KeyValue { Key = "test.attribute", Value = new AnyValue { IntValue = 7 } } },
        };
        if (trace is not null)
        {
            record.TraceId = trace;
        }

        if (span is not null)
        {
            record.SpanId = span;
        }

        return record;
    }

    private static ByteString RandomBytes(int length) => ByteString.CopyFrom(System.Security.Cryptography.RandomNumberGenerator.GetBytes(length));
}
