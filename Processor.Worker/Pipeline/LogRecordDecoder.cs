using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using Trulayer.Otlp.GenAi;
using Trulayer.Otlp.Protobuf;
using Trulayer.Processor.Storage;

namespace Trulayer.Processor.Pipeline;

/// <summary>
/// Turns one Kafka record of otlp.logs.v1 (a <c>trulayer.pipeline.v1.LogBatch</c>) into rows, or into a
/// dead letter naming what is wrong with it. Walks the wire format, so each record's stored bytes are
/// exactly the bytes that arrived; resources and scopes are stored once, as for spans (the same tables,
/// ids and <see cref="DimensionCache"/>). Not thread-safe: one per consume loop.
/// </summary>
internal sealed class LogRecordDecoder(DimensionCache cache)
{
    // LogBatch, ResourceLogs, ScopeLogs: the field numbers of SpanBatch, ResourceSpans, ScopeSpans.
    private const int ResourceField = 1, ScopeLogsField = 2, SchemaUrlField = 3;
    private const int ScopeField = 1, LogRecordsField = 2;

    // LogRecord (opentelemetry/proto/logs/v1/logs.proto).
    private const int TimeField = 1, SeverityNumberField = 2, SeverityTextField = 3, BodyField = 5, AttributesField = 6,
        TraceIdField = 9, SpanIdField = 10, ObservedTimeField = 11, EventNameField = 12;

    /// <summary>The attribute that names an event in semantic conventions before OTLP 1.5 added event_name.</summary>
    public const string EventNameAttribute = "event.name";

    private readonly List<int> _hashes = [];

    public (DecodedLogRecord? Record, DeadLetter? DeadLetter) Decode(ConsumeResult<byte[]?, byte[]?> source)
    {
        try
        {
            return (DecodeCore(source), null);
        }
        catch (RecordRejectedException ex)
        {
            return (null, new DeadLetter(source, DeadLetterStage.Decode, ex.Message));
        }
        catch (Exception ex) when (ex is FormatException or InvalidProtocolBufferException)
        {
            return (null, new DeadLetter(source, DeadLetterStage.Decode, $"the value is not a trulayer.pipeline.v1.LogBatch: {ex.Message}"));
        }
    }

    /// <summary>
    /// A log record's identity: the first 16 bytes of SHA-256 over the project id, resource id, scope id
    /// (each already a hash of the message and its schema URL) and the record's bytes as received. The same
    /// record sent again (a client's or ingest's retry) gets the same id; README.md, "Storage", says why that is safe.
    /// </summary>
    public static Guid RecordId(Guid projectId, Guid resourceId, Guid scopeId, ReadOnlySpan<byte> record)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> ids = stackalloc byte[48];
        projectId.TryWriteBytes(ids, bigEndian: true, out _);
        resourceId.TryWriteBytes(ids[16..], bigEndian: true, out _);
        scopeId.TryWriteBytes(ids[32..], bigEndian: true, out _);
        hash.AppendData(ids);
        hash.AppendData(record);
        Span<byte> digest = stackalloc byte[32];
        hash.GetHashAndReset(digest);
        return new Guid(digest[..16], bigEndian: true);
    }

    private DecodedLogRecord DecodeCore(ConsumeResult<byte[]?, byte[]?> source)
    {
        var batch = BatchEnvelope.Read(source.Message.Value, "LogBatch");
        var (value, projectId, resourceLogs, receivedUnixNano) = (batch.Value, batch.ProjectId, batch.Resources, batch.ReceivedUnixNano);
        var traceIdBytes = batch.TraceId;
        if (traceIdBytes.Length != 0 && traceIdBytes.Length != 16)
        {
            throw new RecordRejectedException($"trace_id has {traceIdBytes.Length} bytes ({Convert.ToHexStringLower(traceIdBytes)}): a trace id is 16 bytes, or empty for records of no trace");
        }

        batch.CheckKey(source);

        var receivedAt = UnixNanos.ToDateTime(receivedUnixNano);
        var rows = new List<LogRow>();
        var resources = new List<ResourceRow>();
        var scopes = new List<ScopeRow>();
        var index = 0;
        foreach (var (rlOffset, rlLength) in resourceLogs)
        {
            var (resourceParts, scopeLogs, resourceSchema) = Split(value, rlOffset, rlLength, ResourceField, ScopeLogsField);
            var resourceBytes = Join(value, resourceParts);
            var resourceSchemaUrl = value.AsSpan(resourceSchema.Offset, resourceSchema.Length);
            var resourceId = SpanRecordDecoder.ContentId(resourceBytes.Span, resourceSchemaUrl);
            var resource = cache.FindResource(projectId, resourceId);
            if (resource is null || !resource.Stored)
            {
                // Repeated occurrences of a message field merge: parsing the concatenation does exactly that.
                var parsed = Resource.Parser.ParseFrom(resourceBytes.Span);
                var serviceName = resource?.ServiceName ?? Clean(ResourceConventions.ServiceName(parsed));
                resource ??= cache.AddResource(projectId, resourceId, serviceName);
                resources.Add(new ResourceRow(projectId, resourceId, serviceName, Encoding.UTF8.GetString(resourceSchemaUrl),
                    AttributeJson.ToJson(parsed.Attributes), resourceBytes.ToArray()));
            }

            foreach (var (slOffset, slLength) in scopeLogs)
            {
                var (scopeParts, records, scopeSchema) = Split(value, slOffset, slLength, ScopeField, LogRecordsField);
                var scopeBytes = Join(value, scopeParts);
                var scopeSchemaUrl = value.AsSpan(scopeSchema.Offset, scopeSchema.Length);
                var scopeId = SpanRecordDecoder.ContentId(scopeBytes.Span, scopeSchemaUrl);
                var scope = cache.FindScope(projectId, scopeId) ?? cache.AddScope(projectId, scopeId);
                if (!scope.Stored)
                {
                    var parsed = InstrumentationScope.Parser.ParseFrom(scopeBytes.Span);
                    scopes.Add(new ScopeRow(projectId, scopeId, AttributeJson.Clean(parsed.Name), AttributeJson.Clean(parsed.Version),
                        Encoding.UTF8.GetString(scopeSchemaUrl), AttributeJson.ToJson(parsed.Attributes), scopeBytes.ToArray()));
                }

                foreach (var (recordOffset, recordLength) in records)
                {
                    var otlp = new ReadOnlyMemory<byte>(value, recordOffset, recordLength);
                    rows.Add(Map(otlp, index, projectId, traceIdBytes, resource.ServiceName, resourceId, scopeId, receivedUnixNano, receivedAt));
                    index++;
                }
            }
        }

        return new DecodedLogRecord(source, rows, resources, scopes);
    }

    private LogRow Map(
        ReadOnlyMemory<byte> otlp, int index, Guid projectId, ReadOnlySpan<byte> batchTrace,
        string? serviceName, Guid resourceId, Guid scopeId, long receivedUnixNano, DateTime receivedAt)
    {
        var bytes = otlp.Span;
        ulong time = 0, observed = 0;
        var severity = 0;
        string? severityText = null, eventName = null, eventNameAttribute = null;
        (int Offset, int Length) body = default, traceId = default, spanId = default;
        _hashes.Clear();
        try
        {
            var reader = new ProtoWireReader(bytes);
            while (reader.TryReadTag(out var field, out var wireType))
            {
                switch ((field, wireType))
                {
                    case (TimeField, WireType.Fixed64):
                        time = reader.ReadFixed64();
                        break;
                    case (ObservedTimeField, WireType.Fixed64):
                        observed = reader.ReadFixed64();
                        break;
                    case (SeverityNumberField, WireType.Varint):
                        severity = (int)reader.ReadVarint64();
                        break;
                    case (SeverityTextField, WireType.LengthDelimited):
                        severityText = Text(reader.ReadBytes());
                        break;
                    case (BodyField, WireType.LengthDelimited):
                        body = reader.ReadRange();
                        break;
                    case (AttributesField, WireType.LengthDelimited):
                        var attribute = KeyValue.Parser.ParseFrom(reader.ReadBytes());
                        if (AttributeHash.Of(attribute.Key, attribute.Value) is { } hash)
                        {
                            _hashes.Add(hash);
                        }

                        if (attribute.Key == EventNameAttribute && attribute.Value is { ValueCase: AnyValue.ValueOneofCase.StringValue } name)
                        {
                            eventNameAttribute = AttributeJson.Clean(name.StringValue);
                        }

                        break;
                    case (TraceIdField, WireType.LengthDelimited):
                        traceId = reader.ReadRange();
                        break;
                    case (SpanIdField, WireType.LengthDelimited):
                        spanId = reader.ReadRange();
                        break;
                    case (EventNameField, WireType.LengthDelimited):
                        eventName = Text(reader.ReadBytes());
                        break;
                    default:
                        reader.Skip(wireType);
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is FormatException or InvalidProtocolBufferException)
        {
            throw new RecordRejectedException($"log record {index} is not an OTLP LogRecord: {ex.Message}");
        }

        var recordTrace = bytes.Slice(traceId.Offset, traceId.Length);
        if (recordTrace.Length is not (0 or 16))
        {
            throw new RecordRejectedException($"log record {index} has a trace_id of {recordTrace.Length} bytes: it must be empty or 16 bytes");
        }

        var hasTrace = recordTrace.Length == 16 && recordTrace.ContainsAnyExcept((byte)0);
        if (hasTrace && !recordTrace.SequenceEqual(batchTrace))
        {
            throw new RecordRejectedException(
                $"log record {index} belongs to trace {Convert.ToHexStringLower(recordTrace)}, not to the record's trace '{Convert.ToHexStringLower(batchTrace)}'");
        }

        var recordSpan = bytes.Slice(spanId.Offset, spanId.Length);
        if (recordSpan.Length is not (0 or 8))
        {
            throw new RecordRejectedException($"log record {index} has a span_id of {recordSpan.Length} bytes: it must be empty or 8 bytes");
        }

        if (time > long.MaxValue || observed > long.MaxValue)
        {
            throw new RecordRejectedException($"log record {index} has a time past 2262-04-11 ({time}, {observed} ns since 1970), which cannot be stored");
        }

        return new LogRow
        {
            ProjectId = projectId,
            RecordId = RecordId(projectId, resourceId, scopeId, bytes),
            PartitionUnixNano = time != 0 ? (long)time : observed != 0 ? (long)observed : receivedUnixNano,
            TimeUnixNano = (long)time,
            ObservedUnixNano = (long)observed,
            SeverityNumber = (short)Math.Clamp(severity, short.MinValue, short.MaxValue),
            SeverityText = severityText,
            SeverityRange = SeverityRange.Of(severity, severityText),
            BodyText = body.Length == 0 ? null : BodyText(bytes.Slice(body.Offset, body.Length)),
            EventName = string.IsNullOrEmpty(eventName) ? eventNameAttribute : eventName,
            TraceId = hasTrace ? new Guid(recordTrace, bigEndian: true) : null,
            SpanId = recordSpan.Length == 8 && recordSpan.ContainsAnyExcept((byte)0) ? BinaryPrimitives.ReadInt64BigEndian(recordSpan) : null,
            ServiceName = serviceName,
            AttributeHashes = [.. _hashes],
            ResourceId = resourceId,
            ScopeId = scopeId,
            Otlp = otlp,
            ReceivedAt = receivedAt,
            BatchPosition = index,
        };
    }

    /// <summary>The body as searchable text: a string as it is, any other value as JSON; null when empty.</summary>
    private static string? BodyText(ReadOnlySpan<byte> anyValue)
    {
        var value = AnyValue.Parser.ParseFrom(anyValue);
        return value.ValueCase switch
        {
            AnyValue.ValueOneofCase.None => null,
            AnyValue.ValueOneofCase.StringValue => AttributeJson.Clean(value.StringValue),
            _ => AttributeJson.Clean(AttributeJson.ToJson(value)),
        };
    }

    /// <summary>A message's parts: its field-1 message (possibly repeated), its field-2 children, and its schema URL (field 3).</summary>
    private static (List<(int Offset, int Length)> Parts, List<(int Offset, int Length)> Children, (int Offset, int Length) SchemaUrl) Split(
        byte[] value, int offset, int length, int partField, int childField)
    {
        var parts = new List<(int Offset, int Length)>();
        var children = new List<(int Offset, int Length)>();
        (int Offset, int Length) schemaUrl = default;
        var reader = new ProtoWireReader(value, offset, offset + length);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            if (wireType != WireType.LengthDelimited)
            {
                reader.Skip(wireType);
            }
            else if (field == partField)
            {
                parts.Add(reader.ReadRange());
            }
            else if (field == childField)
            {
                children.Add(reader.ReadRange());
            }
            else if (field == SchemaUrlField)
            {
                schemaUrl = reader.ReadRange();
            }
            else
            {
                reader.Skip(wireType);
            }
        }

        return (parts, children, schemaUrl);
    }

    private static ReadOnlyMemory<byte> Join(byte[] value, List<(int Offset, int Length)> parts) => parts.Count switch
    {
        0 => ReadOnlyMemory<byte>.Empty,
        1 => new ReadOnlyMemory<byte>(value, parts[0].Offset, parts[0].Length),
        _ => parts.SelectMany(p => value.Skip(p.Offset).Take(p.Length)).ToArray(),
    };

    private static string Text(ReadOnlySpan<byte> utf8) => AttributeJson.Clean(Encoding.UTF8.GetString(utf8));

    private static string? Clean(string? text) => text is null ? null : AttributeJson.Clean(text);

}
