using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;
using Trulayer.Otlp.Pipeline;
using Trulayer.Processor.Pipeline;
using Trulayer.Processor.Storage;
using static Trulayer.Processor.Tests.LogRecords;
using static Trulayer.Processor.Tests.TestSpans;

namespace Trulayer.Processor.Tests;

/// <summary>Processor.Worker consuming otlp.logs.v1 from the dev broker into a real PostgreSQL.</summary>
public sealed class LogProcessorTests(ProcessorFixture fixture) : IClassFixture<ProcessorFixture>
{
    private KafkaFixture Kafka => fixture.Kafka;

    private NpgsqlDataSource Db => fixture.Database.DataSource;

    [Fact]
    public void Storage_WithoutTimescaleDb_LogsUseDayPartitions()
    {
        Assert.Equal(StorageMode.Partitioned, fixture.Host.Services.GetRequiredService<SpanStorage>().LogsMode);
    }

    [Fact]
    public async Task ClientRetryAndRedelivery_EachRecordStoredOnce()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var now = DateTimeOffset.UtcNow;
        var records = Enumerable.Range(0, 200).Select(i => Log(now.AddMilliseconds(i), $"line {i}", trace, Id(8))).ToList();
        var first = Record(project, trace, "api", records, now);
        // A client's retry: ingest makes a new Kafka record of the same log records, received later.
        var retry = Record(project, trace, "api", records, now.AddSeconds(3));

        await Deliver(first, first, retry);

        Assert.Equal(200, await Count($"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}'"));
        Assert.Equal(200, await Count($"SELECT count(DISTINCT body_text) FROM telemetry.logs WHERE project_id = '{project}'"));
        Assert.Equal(1, await Count($"SELECT count(DISTINCT received_at) FROM telemetry.logs WHERE project_id = '{project}'"));
    }

    [Fact]
    public async Task IdenticalRecordsInOneBatch_CollapseToOne_ADifferentResourceKeepsItsOwn()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var record = Log(DateTimeOffset.UtcNow, "the same line", trace);

        await Deliver(Record(project, trace, "api", [record, record.Clone()]), Record(project, trace, "worker", [record]));

        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}' AND service_name = 'api'"));
        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}' AND service_name = 'worker'"));
    }

    [Fact]
    public async Task Record_StoredAsReceived_ColumnsProjected()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var span = Id(8);
        var time = DateTimeOffset.UtcNow;
        var record = Log(time, "", trace, span, SeverityNumber.Error2, "ERROR");
        record.Body = new AnyValue { KvlistValue = new KeyValueList { Values = { new KeyValue { Key = "content", Value = new AnyValue { StringValue = "hello" } } } } };
        record.Flags = 1;
        record.DroppedAttributesCount = 3;

        await Deliver(Record(project, trace, "checkout", [record]));

        await using var command = Db.CreateCommand(
            $"SELECT otlp, severity_number, severity_text, severity_range, body_text, trace_id::text, span_id, service_name, time_unix_nano, observed_unix_nano, time " +
            $"FROM telemetry.logs WHERE project_id = '{project}'");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(record.ToByteArray(), reader.GetFieldValue<byte[]>(0));
        Assert.Equal((short)18, reader.GetInt16(1));
        Assert.Equal("ERROR", reader.GetString(2));
        Assert.Equal((short)5, reader.GetInt16(3));
        Assert.Equal("""{"content":"hello"}""", reader.GetString(4));
        Assert.Equal(Convert.ToHexStringLower(trace.Span), reader.GetString(5).Replace("-", "", StringComparison.Ordinal));
        Assert.Equal(System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(span.Span), reader.GetInt64(6));
        Assert.Equal("checkout", reader.GetString(7));
        Assert.Equal((long)record.TimeUnixNano, reader.GetInt64(8));
        Assert.Equal((long)record.ObservedTimeUnixNano, reader.GetInt64(9));
        Assert.Equal((long)record.TimeUnixNano / 1000, (reader.GetDateTime(10) - DateTime.UnixEpoch).Ticks / 10);
    }

    [Theory]
    [InlineData(SeverityNumber.Trace, null, 1)]
    [InlineData(SeverityNumber.Debug4, null, 2)]
    [InlineData(SeverityNumber.Info, null, 3)]
    [InlineData(SeverityNumber.Warn3, null, 4)]
    [InlineData(SeverityNumber.Error, null, 5)]
    [InlineData(SeverityNumber.Fatal4, null, 6)]
    [InlineData(SeverityNumber.Unspecified, "Warning", 4)]
    [InlineData(SeverityNumber.Unspecified, "critical", 6)]
    [InlineData(SeverityNumber.Unspecified, "chatty", null)]
    [InlineData(SeverityNumber.Unspecified, null, null)]
    public async Task Severity_MappedToItsRange(SeverityNumber number, string? text, int? range)
    {
        var project = Guid.NewGuid();
        await Deliver(Record(project, ByteString.Empty, "api", [Log(DateTimeOffset.UtcNow, "x", severity: number, severityText: text)]));

        await using var command = Db.CreateCommand($"SELECT severity_range, severity_number FROM telemetry.logs WHERE project_id = '{project}'");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(range, reader.IsDBNull(0) ? null : reader.GetInt16(0));
        Assert.Equal((short)number, reader.GetInt16(1));
    }

    [Fact]
    public async Task EventName_FromTheFieldOrTheOlderAttribute_GenAiEventsFoundBySpan()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var span = Id(8);
        var now = DateTimeOffset.UtcNow;
        var byField = Log(now, "prompt", trace, span);
        byField.EventName = "gen_ai.user.message";
        var byAttribute = Log(now.AddMilliseconds(1), "answer", trace, span);
        byAttribute.Attributes.Add(new KeyValue { Key = "event.name", Value = new AnyValue { StringValue = "gen_ai.choice" } });
        var both = Log(now.AddMilliseconds(2), "details", trace, span);
        both.EventName = "gen_ai.client.inference.operation.details";
        both.Attributes.Add(new KeyValue { Key = "event.name", Value = new AnyValue { StringValue = "ignored" } });
        var plain = Log(now.AddMilliseconds(3), "plain line", trace, Id(8));

        await Deliver(Record(project, trace, "api", [byField, byAttribute, both, plain]));

        var spanId = System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(span.Span);
        await using var command = Db.CreateCommand(
            $"SELECT event_name FROM telemetry.logs WHERE project_id = '{project}' AND trace_id = '{Convert.ToHexStringLower(trace.Span)}' AND span_id = {spanId} ORDER BY time");
        var names = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                names.Add(reader.GetString(0));
            }
        }

        Assert.Equal(["gen_ai.user.message", "gen_ai.choice", "gen_ai.client.inference.operation.details"], names);
        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}' AND event_name IS NULL AND body_text = 'plain line'"));
    }

    [Fact]
    public async Task RecordsOnSeveralDays_StoredInTheirDayPartitions()
    {
        var project = Guid.NewGuid();
        var days = new[] { new DateTimeOffset(2025, 1, 3, 10, 0, 0, TimeSpan.Zero), new DateTimeOffset(2025, 1, 5, 23, 59, 59, TimeSpan.Zero) };
        var noTime = Log(days[0], "observed only");
        noTime.TimeUnixNano = 0;

        await Deliver(Record(project, ByteString.Empty, "api", [Log(days[0], "a"), Log(days[1], "b"), noTime]));

        Assert.Equal(3, await Count($"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}'"));
        Assert.Equal(2, await Count($"SELECT count(*) FROM telemetry.logs_20250103 WHERE project_id = '{project}'"));
        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.logs_20250105 WHERE project_id = '{project}'"));
    }

    [Fact]
    public async Task PoisonRecord_GoesToTheLogsDeadLetterTopicWithReason_NextRecordsStored()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var good = Record(project, trace, "api", [Log(DateTimeOffset.UtcNow, "after the poison", trace)]);
        var garbage = new byte[] { 0xFF, 0xFF, 0xFF, 0x01, 0x02 };
        var otherTrace = Id(16);
        var mismatched = Record(project, trace, "api", [Log(DateTimeOffset.UtcNow, "wrong trace", otherTrace)]);
        var badSpan = Record(project, trace, "api", [Log(DateTimeOffset.UtcNow, "bad span id", trace, ByteString.CopyFrom(1, 2, 3))]);

        using var producer = Kafka.CreateClientFactory().CreateProducer<byte[]?, byte[]?>("test");
        var poison = await producer.ProduceAsync(fixture.LogsTopic, new Message<byte[]?, byte[]?> { Key = good.Key, Value = garbage });
        var violation = await producer.ProduceAsync(fixture.LogsTopic, mismatched);
        var badSpanResult = await producer.ProduceAsync(fixture.LogsTopic, badSpan);
        var stored = await producer.ProduceAsync(fixture.LogsTopic, good);
        Assert.Equal(poison.Partition, stored.Partition);
        await ProcessorHost.WaitUntilDrainedAsync(Kafka, fixture.LogsTopic);

        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}'"));
        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}' AND body_text = 'after the poison'"));

        var letters = Kafka.ReadAll(fixture.LogsDeadLetterTopic);
        var poisonLetter = Assert.Single(letters, l => Is(l, poison));
        Assert.Equal(garbage, poisonLetter.Message.Value);
        Assert.Equal(fixture.LogsTopic, Header(poisonLetter, DeadLetterPublisher.SourceTopicHeader));
        Assert.Equal("decode", Header(poisonLetter, DeadLetterPublisher.StageHeader));
        Assert.StartsWith("the value is not a trulayer.pipeline.v1.LogBatch", Header(poisonLetter, DeadLetterPublisher.ReasonHeader), StringComparison.Ordinal);
        Assert.Contains($"belongs to trace {Convert.ToHexStringLower(otherTrace.Span)}", Header(Assert.Single(letters, l => Is(l, violation)), DeadLetterPublisher.ReasonHeader), StringComparison.Ordinal);
        Assert.Contains("span_id of 3 bytes", Header(Assert.Single(letters, l => Is(l, badSpanResult)), DeadLetterPublisher.ReasonHeader), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RecordWithoutTrace_StoredWithNullIds()
    {
        var project = Guid.NewGuid();
        await Deliver(Record(project, ByteString.Empty, "cron", [Log(DateTimeOffset.UtcNow, "nightly job done")]));

        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}' AND trace_id IS NULL AND span_id IS NULL AND service_name = 'cron'"));
    }

    private async Task Deliver(params Message<byte[]?, byte[]?>[] messages)
    {
        await SpanRecords.ProduceAsync(Kafka, messages, fixture.LogsTopic);
        await ProcessorHost.WaitUntilDrainedAsync(Kafka, fixture.LogsTopic);
    }

    private Task<long> Count(string sql) => ProcessorHost.CountAsync(Db, sql);

    private static bool Is(ConsumeResult<byte[]?, byte[]> letter, DeliveryResult<byte[]?, byte[]?> source)
        => Header(letter, DeadLetterPublisher.SourceOffsetHeader) == source.Offset.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)
           && Header(letter, DeadLetterPublisher.SourcePartitionHeader) == source.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string? Header(ConsumeResult<byte[]?, byte[]> record, string name)
        => record.Message.Headers.TryGetLastBytes(name, out var value) ? Encoding.UTF8.GetString(value) : null;
}
