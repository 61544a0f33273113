using Google.Protobuf;
using OpenTelemetry.Proto.Logs.V1;

namespace Trulayer.Ingest.Pipeline;

/// <summary>
/// Rewrites a log record over a limit, as <see cref="SpanTruncator"/> does a span: long keys and large
/// attribute values are cut, attributes beyond the count dropped and counted in dropped_attributes_count,
/// and a body over the value limit cut like an attribute value.
/// </summary>
public static class LogRecordTruncator
{
    public static byte[] Truncate(ReadOnlySpan<byte> encodedRecord, IngestOptions limits)
    {
        var record = LogRecord.Parser.ParseFrom(encodedRecord);
        record.DroppedAttributesCount += SpanTruncator.BoundAttributes(record.Attributes, limits);
        if (record.Body is { } body)
        {
            SpanTruncator.CutValue(body, limits.MaxAttributeValueBytes);
        }

        return record.ToByteArray();
    }
}
