using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Pipeline;
using Trulayer.Processor.Pipeline;
using Trulayer.Processor.Storage;
using Trulayer.ServiceDefaults.Kafka;
using Trulayer.Workload;
using static Trulayer.Processor.Tests.TestSpans;

namespace Trulayer.Processor.Tests;

/// <summary>Processor.Worker consuming the dev broker into a real PostgreSQL; one running processor for the class.</summary>
public sealed partial class ProcessorTests(ProcessorFixture fixture) : IClassFixture<ProcessorFixture>
{
    private KafkaFixture Kafka => fixture.Kafka;

    private NpgsqlDataSource Db => fixture.Database.DataSource;

    [Fact]
    public void Storage_WithoutTimescaleDb_UsesDayPartitions()
    {
        Assert.Equal(StorageMode.Partitioned, fixture.Host.Services.GetRequiredService<SpanStorage>().Mode);
    }

    [Fact]
    public async Task Load_10000SpansDeliveredTwice_EachSpanStoredOnce()
    {
        using var duplicates = new CounterListener(fixture.Host.Services.GetRequiredService<IMeterFactory>(), "trulayer.processor.spans.duplicates");
        var project = Guid.NewGuid();
        var requests = Enumerable.Range(0, 10).Select(_ => StandardBatch.GenAi()).ToList();
        var messages = requests.SelectMany(r => SpanRecords.FromRequest(project, r)).ToList();

        await SpanRecords.ProduceAsync(Kafka, messages, fixture.Topic);
        await SpanRecords.ProduceAsync(Kafka, messages, fixture.Topic);
        await ProcessorHost.WaitUntilDrainedAsync(Kafka, fixture.Topic);

        var spans = requests.SelectMany(r => r.ResourceSpans).SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).ToList();
        Assert.Equal(10_000, spans.Count);
        Assert.Equal(10_000, await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}'"));
        Assert.Equal(10_000, await Count($"SELECT count(DISTINCT (trace_id, span_id)) FROM telemetry.spans WHERE project_id = '{project}'"));
        Assert.Equal(100, await Count($"SELECT count(*) FROM telemetry.traces WHERE project_id = '{project}' AND span_count = 100"));
        Assert.Equal(10_000, duplicates.Total);

        var inputTokens = spans.SelectMany(s => s.Attributes).Where(a => a.Key == "gen_ai.usage.input_tokens").Sum(a => a.Value.IntValue);
        var costMicros = spans.SelectMany(s => s.Attributes).Where(a => a.Key == "gen_ai.usage.cost").Sum(a => (long)Math.Round(a.Value.DoubleValue * 1_000_000, MidpointRounding.AwayFromZero));
        Assert.Equal(inputTokens, await Count($"SELECT sum(input_tokens) FROM telemetry.traces WHERE project_id = '{project}'"));
        Assert.Equal(inputTokens, await Count($"SELECT sum(input_tokens) FROM telemetry.spans WHERE project_id = '{project}'"));
        Assert.Equal(costMicros, await Count($"SELECT sum(cost_micros) FROM telemetry.traces WHERE project_id = '{project}'"));
        Assert.Equal(spans.Count(s => s.Attributes.Any(a => a.Key == "gen_ai.system")),
            await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}' AND span_type = 'LLM' AND llm_system IS NOT NULL AND input_text IS NOT NULL"));
    }

    [Fact]
    public async Task Trace_ChildrenBeforeParentHoursApartAndRedelivered_TraceRowIsRight()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var t0 = new DateTimeOffset(2025, 3, 4, 10, 0, 0, TimeSpan.Zero);
        var root = Span(trace, "agent.run", t0, TimeSpan.FromHours(3));
        var llm = Span(trace, "chat gpt-4o", t0.AddHours(1), TimeSpan.FromSeconds(2), root.SpanId,
            Str("gen_ai.system", "openai"), Int("gen_ai.usage.input_tokens", 100), Int("gen_ai.usage.output_tokens", 20), Dbl("gen_ai.usage.cost", 0.01));
        llm.Status = new Status { Code = Status.Types.StatusCode.Error, Message = "rate limited" };
        var tool = Span(trace, "search", t0.AddHours(2), TimeSpan.FromSeconds(1), root.SpanId,
            Str("tool.name", "search"), Int("gen_ai.usage.prompt_tokens", 50), Int("gen_ai.usage.completion_tokens", 10), Dbl("gen_ai.usage.cost", 0.002));

        var llmRecord = Record(project, trace, "worker", llm);
        await Deliver(llmRecord);
        var early = await TraceRow(project, trace);
        Assert.Equal(("chat gpt-4o", false, 1L, true), ((string)early["name"], (bool)early["name_is_root"], (long)early["span_count"], (bool)early["has_error"]));

        await Deliver(Record(project, trace, "worker", tool));
        await Deliver(Record(project, trace, "gateway", root));
        await Deliver(llmRecord);

        var row = await TraceRow(project, trace);
        Assert.Equal("agent.run", row["name"]);
        Assert.True((bool)row["name_is_root"]);
        Assert.Equal((long)Nanos(t0), row["start_unix_nano"]);
        Assert.Equal(t0.UtcDateTime, row["start_time"]);
        Assert.Equal((long)Nanos(t0.AddHours(3)), row["end_unix_nano"]);
        Assert.Equal(3L, row["span_count"]);
        Assert.Equal(1L, row["error_count"]);
        Assert.Equal(new[] { "gateway", "worker" }, (string[])row["services"]);
        Assert.Equal(150L, row["input_tokens"]);
        Assert.Equal(30L, row["output_tokens"]);
        Assert.Equal(12_000L, row["cost_micros"]);
        Assert.Equal(3, await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}'"));
    }

    [Fact]
    public async Task PoisonRecord_GoesToDeadLetterTopicWithReason_NextRecordsStored()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var good = Record(project, trace, "api", Span(trace, "after the poison", DateTimeOffset.UtcNow, TimeSpan.FromMilliseconds(5)));
        var garbage = new byte[] { 0xFF, 0xFF, 0xFF, 0x01, 0x02 };
        var otherTrace = Id(16);
        var mismatched = Record(project, trace, "api", Span(otherTrace, "wrong trace", DateTimeOffset.UtcNow, TimeSpan.FromMilliseconds(5)));

        using var producer = Kafka.CreateClientFactory().CreateProducer<byte[]?, byte[]?>("test");
        var poison = await producer.ProduceAsync(fixture.Topic, new Message<byte[]?, byte[]?> { Key = good.Key, Value = garbage });
        var violation = await producer.ProduceAsync(fixture.Topic, mismatched);
        var stored = await producer.ProduceAsync(fixture.Topic, good);
        Assert.Equal(poison.Partition, stored.Partition);
        await ProcessorHost.WaitUntilDrainedAsync(Kafka, fixture.Topic);

        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}' AND name = 'after the poison'"));
        Assert.Equal(0, await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}' AND name = 'wrong trace'"));

        var letters = Kafka.ReadAll(KafkaTopics.DeadLetter);
        var poisonLetter = Assert.Single(letters, l => Header(l, DeadLetterPublisher.SourceOffsetHeader) == poison.Offset.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)
                                                        && Header(l, DeadLetterPublisher.SourcePartitionHeader) == poison.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(garbage, poisonLetter.Message.Value);
        Assert.Equal(good.Key, poisonLetter.Message.Key);
        Assert.Equal(fixture.Topic, Header(poisonLetter, DeadLetterPublisher.SourceTopicHeader));
        Assert.Equal("decode", Header(poisonLetter, DeadLetterPublisher.StageHeader));
        Assert.StartsWith("the value is not a trulayer.pipeline.v1.SpanBatch", Header(poisonLetter, DeadLetterPublisher.ReasonHeader), StringComparison.Ordinal);

        var violationLetter = Assert.Single(letters, l => Header(l, DeadLetterPublisher.SourceOffsetHeader) == violation.Offset.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)
                                                           && Header(l, DeadLetterPublisher.SourcePartitionHeader) == violation.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains($"belongs to trace {Convert.ToHexStringLower(otherTrace.Span)}", Header(violationLetter, DeadLetterPublisher.ReasonHeader), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DatabaseRefusesOneRecord_ThatRecordIsDeadLetteredAndTheRestStored()
    {
        await Execute("""
            CREATE OR REPLACE FUNCTION public.refuse_marked_span() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.name = 'refused by the database' THEN
                    RAISE EXCEPTION 'this span is refused' USING ERRCODE = '22023';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_marked_span BEFORE INSERT ON telemetry.spans FOR EACH ROW EXECUTE FUNCTION public.refuse_marked_span();
            """);
        try
        {
            var project = Guid.NewGuid();
            var records = new List<Message<byte[]?, byte[]?>>();
            for (var i = 0; i < 12; i++)
            {
                var trace = Id(16);
                records.Add(Record(project, trace, "api", Span(trace, i == 7 ? "refused by the database" : "accepted", DateTimeOffset.UtcNow, TimeSpan.FromMilliseconds(1))));
            }

            using var producer = Kafka.CreateClientFactory().CreateProducer<byte[]?, byte[]?>("test");
            var deliveries = new List<DeliveryResult<byte[]?, byte[]?>>();
            foreach (var record in records)
            {
                deliveries.Add(await producer.ProduceAsync(fixture.Topic, record));
            }

            await ProcessorHost.WaitUntilDrainedAsync(Kafka, fixture.Topic);

            Assert.Equal(11, await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}'"));
            Assert.Equal(11, await Count($"SELECT count(*) FROM telemetry.traces WHERE project_id = '{project}'"));
            var refused = deliveries[7];
            var letter = Assert.Single(Kafka.ReadAll(KafkaTopics.DeadLetter),
                l => Header(l, DeadLetterPublisher.SourceOffsetHeader) == refused.Offset.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)
                     && Header(l, DeadLetterPublisher.SourcePartitionHeader) == refused.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal("database", Header(letter, DeadLetterPublisher.StageHeader));
            Assert.Equal("PostgreSQL refused the record's rows: 22023 this span is refused", Header(letter, DeadLetterPublisher.ReasonHeader));
        }
        finally
        {
            await Execute("DROP TRIGGER refuse_marked_span ON telemetry.spans; DROP FUNCTION public.refuse_marked_span()");
        }
    }

    [Fact]
    public async Task Spans_AcrossADayBoundaryAndIn1970And2023AndNextYear_AreStoredInDayPartitions()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var midnight = new DateTimeOffset(2024, 12, 31, 0, 0, 0, TimeSpan.Zero).AddDays(1);
        var nextYear = new DateTimeOffset(DateTime.UtcNow.Year + 1, 2, 28, 12, 0, 0, TimeSpan.Zero);
        var spans = new[]
        {
            Span(trace, "last nanosecond of 2024", midnight, TimeSpan.FromSeconds(1)),
            Span(trace, "first nanosecond of 2025", midnight, TimeSpan.FromSeconds(1)),
            Span(trace, "1970", DateTimeOffset.UnixEpoch.AddMilliseconds(500), TimeSpan.FromSeconds(1)),
            Span(trace, "2023", new DateTimeOffset(2023, 7, 14, 8, 30, 0, TimeSpan.Zero), TimeSpan.FromSeconds(1)),
            Span(trace, "next year", nextYear, TimeSpan.FromSeconds(1)),
        };
        spans[0].StartTimeUnixNano -= 1;

        await Deliver(Record(project, trace, "api", spans));

        var stored = new Dictionary<string, (string Partition, long Start)>();
        await using (var command = Db.CreateCommand($"SELECT name, tableoid::regclass::text, start_unix_nano FROM telemetry.spans WHERE project_id = '{project}'"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                stored[reader.GetString(0)] = (reader.GetString(1), reader.GetInt64(2));
            }
        }

        Assert.Equal(5, stored.Count);
        Assert.Equal("telemetry.spans_20241231", stored["last nanosecond of 2024"].Partition);
        Assert.Equal("telemetry.spans_20250101", stored["first nanosecond of 2025"].Partition);
        Assert.Equal("telemetry.spans_19700101", stored["1970"].Partition);
        Assert.Equal("telemetry.spans_20230714", stored["2023"].Partition);
        Assert.Equal($"telemetry.spans_{nextYear:yyyyMMdd}", stored["next year"].Partition);
        Assert.All(spans, s => Assert.Equal((long)s.StartTimeUnixNano, stored[s.Name].Start));
        Assert.Equal(0, await Count("SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'telemetry.spans'::regclass AND c.relispartition AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'"));
    }

    [Fact]
    public async Task StoredRows_RebuildEverySpanResourceAndScopeExactly()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var resource = new Resource
        {
            Attributes = { Str("service.name", "checkout"), Int("host.cpus", 8) },
            DroppedAttributesCount = 3,
        };
        var scope = new InstrumentationScope { Name = "my.lib", Version = "2.1.0", Attributes = { Str("lib.flavor", "sync") }, DroppedAttributesCount = 1 };
        var span = Span(trace, "every field", DateTimeOffset.UtcNow, TimeSpan.FromMilliseconds(1234), Id(8),
            Str("s", "text with \u0000 and ünïcödé"), Int("i", long.MinValue), Dbl("d", double.NaN),
            new KeyValue { Key = "b", Value = new AnyValue { BoolValue = true } },
            new KeyValue { Key = "bytes", Value = new AnyValue { BytesValue = ByteString.CopyFrom(0, 1, 255) } },
            new KeyValue { Key = "array", Value = new AnyValue { ArrayValue = new ArrayValue { Values = { new AnyValue { IntValue = 1 }, new AnyValue { StringValue = "two" }, new AnyValue() } } } },
            new KeyValue { Key = "map", Value = new AnyValue { KvlistValue = new KeyValueList { Values = { Dbl("x", 1.5), new KeyValue { Key = "nested", Value = new AnyValue { KvlistValue = new KeyValueList { Values = { Str("deep", "yes") } } } } } } } },
            new KeyValue { Key = "empty" });
        span.StartTimeUnixNano += 123_456; // below the microsecond
        span.TraceState = "vendor=abc,other=1";
        span.Flags = 0x301;
        span.Kind = OpenTelemetry.Proto.Trace.V1.Span.Types.SpanKind.Consumer;
        span.DroppedAttributesCount = 2;
        span.DroppedEventsCount = 4;
        span.DroppedLinksCount = 5;
        span.Status = new Status { Code = Status.Types.StatusCode.Ok, Message = "fine" };
        span.Events.Add(new OpenTelemetry.Proto.Trace.V1.Span.Types.Event { TimeUnixNano = span.StartTimeUnixNano + 7, Name = "retry", Attributes = { Int("attempt", 2) }, DroppedAttributesCount = 6 });
        span.Links.Add(new OpenTelemetry.Proto.Trace.V1.Span.Types.Link { TraceId = Id(16), SpanId = Id(8), TraceState = "k=v", Attributes = { Str("why", "fan-in") }, DroppedAttributesCount = 7, Flags = 0x100 });
        var second = Span(trace, "sibling", DateTimeOffset.UtcNow, TimeSpan.FromMilliseconds(1), span.ParentSpanId);
        var batch = new SpanBatch
        {
            ProjectId = project.ToString(),
            TraceId = trace,
            ReceivedTimeUnixNano = Nanos(DateTimeOffset.UtcNow),
            ResourceSpans =
            {
                new ResourceSpans
                {
                    Resource = resource,
                    SchemaUrl = "https://opentelemetry.io/schemas/1.27.0",
                    ScopeSpans =
                    {
                        new ScopeSpans { Scope = scope, SchemaUrl = "https://opentelemetry.io/schemas/1.26.0", Spans = { span } },
                        new ScopeSpans { Spans = { second } },
                    },
                },
            },
        };

        await Deliver(SpanRecords.ToMessage(batch));

        var rebuilt = new Dictionary<Guid, ResourceSpans>();
        var scopes = new Dictionary<(Guid, Guid), ScopeSpans>();
        await using (var command = Db.CreateCommand($"""
            SELECT s.resource_id, r.otlp, r.schema_url, s.scope_id, c.otlp, c.schema_url, s.otlp
            FROM telemetry.spans s
            JOIN telemetry.resources r ON r.project_id = s.project_id AND r.resource_id = s.resource_id
            JOIN telemetry.scopes c ON c.project_id = s.project_id AND c.scope_id = s.scope_id
            WHERE s.project_id = '{project}' AND s.trace_id = '{Convert.ToHexStringLower(trace.Span)}'
            ORDER BY s.start_time, s.span_id
            """))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                var resourceId = reader.GetGuid(0);
                if (!rebuilt.TryGetValue(resourceId, out var resourceSpans))
                {
                    resourceSpans = new ResourceSpans { Resource = Resource.Parser.ParseFrom(reader.GetFieldValue<byte[]>(1)), SchemaUrl = reader.GetString(2) };
                    rebuilt.Add(resourceId, resourceSpans);
                }

                var scopeKey = (resourceId, reader.GetGuid(3));
                if (!scopes.TryGetValue(scopeKey, out var scopeSpans))
                {
                    var scopeBytes = reader.GetFieldValue<byte[]>(4);
                    scopeSpans = new ScopeSpans { Scope = scopeBytes.Length == 0 ? null : InstrumentationScope.Parser.ParseFrom(scopeBytes), SchemaUrl = reader.GetString(5) };
                    scopes.Add(scopeKey, scopeSpans);
                    resourceSpans.ScopeSpans.Add(scopeSpans);
                }

                var otlp = reader.GetFieldValue<byte[]>(6);
                Assert.Contains(new[] { span, second }, s => s.ToByteString().Span.SequenceEqual(otlp));
                scopeSpans.Spans.Add(OpenTelemetry.Proto.Trace.V1.Span.Parser.ParseFrom(otlp));
            }
        }

        var original = batch.ResourceSpans.Single();
        var result = Assert.Single(rebuilt.Values);
        Assert.Equal(original.Resource, result.Resource);
        Assert.Equal(original.SchemaUrl, result.SchemaUrl);
        Assert.Equal(
            original.ScopeSpans.Select(s => (s.Scope ?? new InstrumentationScope(), s.SchemaUrl, Spans: string.Join(",", s.Spans.Select(x => x.ToByteString().ToBase64())))).OrderBy(x => x.SchemaUrl),
            result.ScopeSpans.Select(s => (s.Scope ?? new InstrumentationScope(), s.SchemaUrl, Spans: string.Join(",", s.Spans.Select(x => x.ToByteString().ToBase64())))).OrderBy(x => x.SchemaUrl));

        // Each attribute with a value has its hash of key=value, computable in SQL with hashtext.
        string[] texts = ["i=-9223372036854775808", "d=NaN", "b=true", "bytes=AAH/", "array=[1,\"two\",null]", "map={\"x\":1.5,\"nested\":{\"deep\":\"yes\"}}"];
        await using var columns = Db.CreateCommand($"""
            SELECT cardinality(attr_hashes), attr_hashes @> ARRAY(SELECT hashtext(t) FROM unnest($1::text[]) AS t), name, start_time, status_message, service_name
            FROM telemetry.spans WHERE project_id = '{project}' AND name = 'every field'
            """);
        columns.Parameters.Add(new NpgsqlParameter { Value = texts });
        await using var row = await columns.ExecuteReaderAsync();
        Assert.True(await row.ReadAsync());
        Assert.Equal(7, row.GetInt32(0));
        Assert.True(row.GetBoolean(1));
        Assert.Equal("every field", row.GetString(2));
        Assert.Equal(UnixNanos.ToDateTime((long)span.StartTimeUnixNano), row.GetDateTime(3));
        Assert.Equal("fine", row.GetString(4));
        Assert.Equal("checkout", row.GetString(5));
    }

    [Fact]
    public async Task AttributeHash_IsPostgresHashtext()
    {
        string[] texts = [.. Enumerable.Range(0, 41).Select(n => string.Concat(Enumerable.Range(0, n).Select(i => (char)('a' + (i * 7 % 26))))), "gen_ai.request.model=gpt-4o", "ünïcödé 漢字 🚀=✓", "k=" + new string('v', 5000)];
        await using var command = Db.CreateCommand("SELECT hashtext(t) FROM unnest($1::text[]) WITH ORDINALITY AS x(t, i) ORDER BY i");
        command.Parameters.Add(new NpgsqlParameter { Value = texts });
        var expected = new List<int>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                expected.Add(reader.GetInt32(0));
            }
        }

        Assert.Equal(expected, texts.Select(Trulayer.Otlp.GenAi.AttributeHash.HashText));
    }

    [Fact]
    public async Task Health_ReportsPostgresKafkaAndTheWorkerLoop()
    {
        using var client = fixture.Host.CreateClient();
        using var response = await client.GetAsync(new Uri("/health", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(body);
        var checks = json.RootElement.GetProperty("checks");
        foreach (var name in new[] { "postgres", "kafka", "worker" })
        {
            Assert.Equal("Healthy", checks.GetProperty(name).GetProperty("status").GetString());
        }
    }

    internal static Message<byte[]?, byte[]?> Record(Guid project, ByteString trace, string service, params OpenTelemetry.Proto.Trace.V1.Span[] spans) => SpanRecords.ToMessage(new SpanBatch
    {
        ProjectId = project.ToString(),
        TraceId = trace,
        ReceivedTimeUnixNano = Nanos(DateTimeOffset.UtcNow),
        ResourceSpans =
        {
            new ResourceSpans
            {
                Resource = new Resource { Attributes = { Str("service.name", service) } },
                ScopeSpans = { new ScopeSpans { Scope = new InstrumentationScope { Name = "test" }, Spans = { spans } } },
            },
        },
    });

    private async Task Deliver(Message<byte[]?, byte[]?> message)
    {
        await SpanRecords.ProduceAsync(Kafka, [message], fixture.Topic);
        await ProcessorHost.WaitUntilDrainedAsync(Kafka, fixture.Topic);
    }

    private async Task<Dictionary<string, object>> TraceRow(Guid project, ByteString trace)
    {
        await using var command = Db.CreateCommand($"SELECT * FROM telemetry.traces WHERE project_id = '{project}' AND trace_id = '{Convert.ToHexStringLower(trace.Span)}'");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), "no traces row");
        return Enumerable.Range(0, reader.FieldCount).ToDictionary(reader.GetName, reader.GetValue);
    }

    private Task<long> Count(string sql) => ProcessorHost.CountAsync(Db, sql);

    private async Task Execute(string sql)
    {
        await using var command = Db.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private static string? Header(ConsumeResult<byte[]?, byte[]> record, string name)
        => record.Message.Headers.TryGetLastBytes(name, out var value) ? Encoding.UTF8.GetString(value) : null;

    /// <summary>Sums what a counter of the processor's meter records while it is alive.</summary>
    /// <summary>Sums one instrument of one host's processor meter (other hosts in this process report on their own).</summary>
    private sealed class CounterListener : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _total;

        public CounterListener(IMeterFactory scope, string instrument)
        {
            _listener.InstrumentPublished = (i, l) =>
            {
                if (i.Meter.Name == ProcessorMetrics.MeterName && i.Name == instrument && ReferenceEquals(i.Meter.Scope, scope))
                {
                    l.EnableMeasurementEvents(i);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _total, value));
            _listener.Start();
        }

        public long Total => Interlocked.Read(ref _total);

        public void Dispose() => _listener.Dispose();
    }
}
