using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Resource.V1;
using Trulayer.Otlp.Pipeline;

namespace Trulayer.Processor.Tests;

/// <summary>Kafka records of otlp.logs.v1 as ingest produces them: one LogBatch per (project, trace).</summary>
internal static class LogRecords
{
    public static Message<byte[]?, byte[]?> Record(Guid projectId, ByteString traceId, string service, IEnumerable<LogRecord> records, DateTimeOffset? receivedAt = null)
    {
        var batch = new LogBatch
        {
            ProjectId = projectId.ToString(),
            TraceId = traceId,
            ReceivedTimeUnixNano = (ulong)((receivedAt ?? DateTimeOffset.UtcNow).ToUnixTimeMilliseconds() * 1_000_000),
        };
        var scopeLogs = new ScopeLogs { Scope = new InstrumentationScope { Name = "test.logs", Version = "1.0" }, SchemaUrl = "https://opentelemetry.io/schemas/1.36.0" };
        scopeLogs.LogRecords.AddRange(records);
        var resourceLogs = new ResourceLogs
        {
            Resource = new Resource { Attributes = { new KeyValue { Key = "service.name", Value = new AnyValue { StringValue = service } } } },
            ScopeLogs = { scopeLogs },
        };
        batch.ResourceLogs.Add(resourceLogs);
        return ToMessage(batch);
    }

    public static Message<byte[]?, byte[]?> ToMessage(LogBatch batch) => new()
    {
        Key = Encoding.UTF8.GetBytes($"{batch.ProjectId}:{Convert.ToHexStringLower(batch.TraceId.Span)}"),
        Value = batch.ToByteArray(),
    };

    public static LogRecord Log(DateTimeOffset time, string body, ByteString? traceId = null, ByteString? spanId = null, SeverityNumber severity = SeverityNumber.Info, string? severityText = null)
    {
        var record = new LogRecord
        {
            TimeUnixNano = (ulong)(time - DateTimeOffset.UnixEpoch).Ticks * 100,
            ObservedTimeUnixNano = (ulong)(time - DateTimeOffset.UnixEpoch).Ticks * 100 + 1000,
            SeverityNumber = severity,
            Body = new AnyValue { StringValue = body },
            Attributes = { new KeyValue { Key = "test.attribute", Value = new AnyValue { IntValue = 7 } } },
        };
        if (severityText is not null)
        {
            record.SeverityText = severityText;
        }

        if (traceId is not null)
        {
            record.TraceId = traceId;
        }

        if (spanId is not null)
        {
            record.SpanId = spanId;
        }

        return record;
    }
}
