using Trulayer.Otlp.Protobuf;

namespace Trulayer.Ingest.Pipeline;

/// <summary>
/// The log side of <see cref="OtlpRequestScanner"/>: reads an <c>ExportLogsServiceRequest</c>'s log records
/// in place. A record's trace and span id are optional (0 bytes) but, when present, 16 and 8 bytes; its
/// body is bounded like an attribute value; <c>event_name</c> (field 12) and every other field travel as
/// received. A record over a limit is re-encoded by <see cref="LogRecordTruncator"/>.
/// </summary>
public sealed class LogsRequestScanner(IngestOptions limits) : OtlpRequestScanner(limits, OtlpSignalNames.Logs)
{
    // LogRecord fields (opentelemetry/proto/logs/v1/logs.proto).
    private const int TimeUnixNano = 1;
    private const int Body = 5;
    private const int Attributes = 6;
    private const int TraceId = 9;
    private const int SpanId = 10;
    private const int ObservedTimeUnixNano = 11;

    protected override int MaxItemsPerRequest => Limits.MaxLogRecordsPerRequest;

    protected override int MaxResourceAttributes => Limits.MaxResourceAttributes;

    protected override RejectReason? ScanItem(ReadOnlySpan<byte> buffer, int start, int end, ulong minStart, out int traceIdStart, out Truncations truncations)
    {
        traceIdStart = -1;
        var traceIdLength = 0;
        var spanIdStart = -1;
        var spanIdLength = 0;
        ulong time = 0;
        ulong observed = 0;
        var attributes = 0;
        var problems = new ValueProblems();
        var body = new ValueProblems();
        var reader = new ProtoWireReader(buffer, start, end);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch (field)
            {
                case TimeUnixNano when wireType == WireType.Fixed64:
                    time = reader.ReadFixed64();
                    break;
                case ObservedTimeUnixNano when wireType == WireType.Fixed64:
                    observed = reader.ReadFixed64();
                    break;
                case TraceId when wireType == WireType.LengthDelimited:
                    traceIdStart = reader.ReadLengthDelimited(out traceIdLength);
                    break;
                case SpanId when wireType == WireType.LengthDelimited:
                    spanIdStart = reader.ReadLengthDelimited(out spanIdLength);
                    break;
                case Attributes when wireType == WireType.LengthDelimited:
                {
                    attributes++;
                    var s = reader.ReadLengthDelimited(out var l);
                    ScanAttribute(buffer, s, s + l, ref problems);
                    break;
                }

                case Body when wireType == WireType.LengthDelimited:
                {
                    var s = reader.ReadLengthDelimited(out var l);
                    ScanAnyValue(buffer, s, s + l, depth: 1, ref body);
                    break;
                }

                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        truncations = problems.Truncations;
        if ((body.Truncations & Truncations.ValueTooLarge) != 0)
        {
            truncations |= Truncations.BodyTooLarge;
        }

        if (attributes > Limits.MaxAttributesPerSpan)
        {
            truncations |= Truncations.TooManyAttributes;
        }

        if (traceIdLength is not (0 or 16))
        {
            return RejectReason.InvalidOptionalTraceId;
        }

        if (spanIdLength is not (0 or 8))
        {
            return RejectReason.InvalidOptionalSpanId;
        }

        // An all-zero id is OTel's "no id": such a record names no trace (its bytes still travel as sent).
        var hasTrace = traceIdLength == 16 && !IsZero(buffer.Slice(traceIdStart, 16));
        if (!hasTrace)
        {
            traceIdStart = -1;
        }

        if (!hasTrace && spanIdLength == 8 && !IsZero(buffer.Slice(spanIdStart, 8)))
        {
            return RejectReason.SpanIdWithoutTraceId;
        }

        if (problems.TooDeep || body.TooDeep)
        {
            return RejectReason.NestedTooDeep;
        }

        // A record without time_unix_nano is dated by when it was observed.
        var dated = time != 0 ? time : observed;
        return dated != 0 && dated < minStart ? RejectReason.OutsideRetention : null;
    }

    protected override byte[] Truncate(ReadOnlySpan<byte> item) => LogRecordTruncator.Truncate(item, Limits);
}
