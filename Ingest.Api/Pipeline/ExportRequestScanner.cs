using Trulayer.Otlp.Protobuf;

namespace Trulayer.Ingest.Pipeline;

/// <summary>
/// The span side of <see cref="OtlpRequestScanner"/>: reads an <c>ExportTraceServiceRequest</c>'s spans in
/// place, learning each span's ids, times and attribute sizes; a span over a limit is re-encoded by
/// <see cref="SpanTruncator"/>.
/// </summary>
public sealed class ExportRequestScanner(IngestOptions limits) : OtlpRequestScanner(limits, OtlpSignalNames.Traces)
{
    protected override int MaxItemsPerRequest => Limits.MaxSpansPerRequest;

    protected override RejectReason? ScanItem(ReadOnlySpan<byte> buffer, int start, int end, ulong minStart, out int traceIdStart, out Truncations truncations)
    {
        var span = ScanSpan(buffer, start, end);
        traceIdStart = span.TraceIdStart;
        truncations = span.Truncations;
        return Validate(buffer, in span, minStart);
    }

    protected override byte[] Truncate(ReadOnlySpan<byte> item) => SpanTruncator.Truncate(item, Limits);

    private static RejectReason? Validate(ReadOnlySpan<byte> buffer, in SpanScan span, ulong minStart)
    {
        if (span.TraceIdLength != 16 || IsZero(buffer.Slice(span.TraceIdStart, 16)))
        {
            return RejectReason.InvalidTraceId;
        }

        if (span.SpanIdLength != 8 || IsZero(buffer.Slice(span.SpanIdStart, 8)))
        {
            return RejectReason.InvalidSpanId;
        }

        if (span.ParentSpanIdLength is not (0 or 8))
        {
            return RejectReason.InvalidParentSpanId;
        }

        if (span.EndTime < span.StartTime)
        {
            return RejectReason.EndBeforeStart;
        }

        if (span.NestedTooDeep)
        {
            return RejectReason.NestedTooDeep;
        }

        return span.StartTime < minStart ? RejectReason.OutsideRetention : null;
    }

    /// <summary>What the receiver needs to know about one span, read without decoding it.</summary>
    private struct SpanScan
    {
        public int TraceIdStart;
        public int TraceIdLength;
        public int SpanIdStart;
        public int SpanIdLength;
        public int ParentSpanIdLength;
        public ulong StartTime;
        public ulong EndTime;
        public Truncations Truncations;
        public bool NestedTooDeep;
    }

    private SpanScan ScanSpan(ReadOnlySpan<byte> buffer, int start, int end)
    {
        var scan = new SpanScan { TraceIdStart = -1, SpanIdStart = -1 };
        var attributes = 0;
        var events = 0;
        var links = 0;
        var problems = new ValueProblems();
        var reader = new ProtoWireReader(buffer, start, end);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch (field)
            {
                case 1 when wireType == WireType.LengthDelimited:
                    scan.TraceIdStart = reader.ReadLengthDelimited(out scan.TraceIdLength);
                    break;
                case 2 when wireType == WireType.LengthDelimited:
                    scan.SpanIdStart = reader.ReadLengthDelimited(out scan.SpanIdLength);
                    break;
                case 4 when wireType == WireType.LengthDelimited:
                    reader.ReadLengthDelimited(out scan.ParentSpanIdLength);
                    break;
                case 7 when wireType == WireType.Fixed64:
                    scan.StartTime = reader.ReadFixed64();
                    break;
                case 8 when wireType == WireType.Fixed64:
                    scan.EndTime = reader.ReadFixed64();
                    break;
                case 9 when wireType == WireType.LengthDelimited:
                {
                    attributes++;
                    var s = reader.ReadLengthDelimited(out var l);
                    ScanAttribute(buffer, s, s + l, ref problems);
                    break;
                }

                case 11 when wireType == WireType.LengthDelimited:
                {
                    events++;
                    var s = reader.ReadLengthDelimited(out var l);
                    ScanAttributesHolder(buffer, s, s + l, attributesField: 3, ref problems);
                    break;
                }

                case 13 when wireType == WireType.LengthDelimited:
                {
                    links++;
                    var s = reader.ReadLengthDelimited(out var l);
                    ScanAttributesHolder(buffer, s, s + l, attributesField: 4, ref problems);
                    break;
                }

                case 15 when wireType == WireType.LengthDelimited:
                {
                    var s = reader.ReadLengthDelimited(out var l);
                    ScanFlat(buffer, s, s + l);
                    break;
                }

                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        scan.Truncations = problems.Truncations;
        scan.NestedTooDeep = problems.TooDeep;
        if (attributes > Limits.MaxAttributesPerSpan)
        {
            scan.Truncations |= Truncations.TooManyAttributes;
        }

        if (events > Limits.MaxEventsPerSpan)
        {
            scan.Truncations |= Truncations.TooManyEvents;
        }

        if (links > Limits.MaxLinksPerSpan)
        {
            scan.Truncations |= Truncations.TooManyLinks;
        }

        if (scan.TraceIdStart < 0)
        {
            scan.TraceIdLength = 0;
        }

        return scan;
    }
}
