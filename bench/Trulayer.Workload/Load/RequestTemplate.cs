using System.Buffers.Binary;
using System.Text.Json;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using Trulayer.Otlp.Json;

namespace Trulayer.Workload.Load;

/// <summary>How a request's payload is encoded on the wire.</summary>
public enum PayloadFormat
{
    /// <summary>OTLP/HTTP protobuf: an encoded ExportTraceServiceRequest (or ExportLogsServiceRequest).</summary>
    Protobuf,

    /// <summary>OTLP/HTTP JSON.</summary>
    Json,

    /// <summary>OTLP/gRPC: the protobuf message behind gRPC's 5-byte length prefix.</summary>
    GrpcFrame,
}

/// <summary>
/// An encoded export request whose trace and span ids can be replaced in place: the payload is encoded
/// once, and each request of a load run copies it and writes fresh ids at the recorded offsets, so making
/// a request costs a memory copy and a few thousand small writes, never an encoding, and generation
/// never limits the rate.
/// </summary>
public sealed class RequestTemplate
{
    private readonly byte[] _bytes;
    private readonly IdSlot[] _traceSlots;
    private readonly IdSlot[] _spanSlots;
    private readonly int[] _spansPerTrace;

    private RequestTemplate(PayloadFormat format, byte[] bytes, IdSlot[] traceSlots, IdSlot[] spanSlots, int[] spansPerTrace, int? items = null)
    {
        Format = format;
        _bytes = bytes;
        _traceSlots = traceSlots;
        _spanSlots = spanSlots;
        _spansPerTrace = spansPerTrace;
        SpanCount = items ?? spansPerTrace.Sum();
    }

    public PayloadFormat Format { get; }

    public int Length => _bytes.Length;

    /// <summary>The spans of each request (of a logs template: its log records).</summary>
    public int SpanCount { get; }

    public int TraceCount => _spansPerTrace.Length;

    /// <summary>How many spans trace <paramref name="trace"/> of each request holds.</summary>
    public int SpansInTrace(int trace) => _spansPerTrace[trace];

    /// <summary>A template of <paramref name="request"/> in <paramref name="format"/>; every span's parent must be in the request or absent.</summary>
    public static RequestTemplate Create(ExportTraceServiceRequest request, PayloadFormat format)
    {
        // Stand-in ids, random so they occur nowhere else in the encoding; found again after encoding.
        var random = new Random(20_250_101);
        var sentinels = new HashSet<uint>();
        var copy = request.Clone();
        var traceIndex = new Dictionary<ByteString, int>();
        var traceSentinels = new List<byte[]>();
        var spanSentinels = new List<byte[]>();
        var spanIndex = new Dictionary<(ByteString Trace, ByteString Span), int>();
        var spansPerTrace = new List<int>();
        var spans = copy.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).ToList();
        if (spans.Count > RunIds.MaxPerRequest)
        {
            throw new ArgumentException($"a template holds at most {RunIds.MaxPerRequest} spans; this request has {spans.Count}", nameof(request));
        }

        foreach (var span in spans)
        {
            if (!traceIndex.TryGetValue(span.TraceId, out var trace))
            {
                trace = traceIndex.Count;
                traceIndex.Add(span.TraceId, trace);
                traceSentinels.Add(NewSentinel(random, 16, sentinels));
                spansPerTrace.Add(0);
            }

            spansPerTrace[trace]++;
            spanIndex.Add((span.TraceId, span.SpanId), spanSentinels.Count);
            spanSentinels.Add(NewSentinel(random, 8, sentinels));
        }

        var expectedSpanOccurrences = new int[spanSentinels.Count];
        foreach (var span in spans)
        {
            var own = spanIndex[(span.TraceId, span.SpanId)];
            expectedSpanOccurrences[own]++;
            if (!span.ParentSpanId.IsEmpty)
            {
                var parent = spanIndex.TryGetValue((span.TraceId, span.ParentSpanId), out var p)
                    ? p
                    : throw new ArgumentException("every parent span of a template must be in the request", nameof(request));
                expectedSpanOccurrences[parent]++;
                span.ParentSpanId = ByteString.CopyFrom(spanSentinels[parent]);
            }

            if (span.Links.Count > 0)
            {
                throw new ArgumentException("a template's spans may not carry links", nameof(request));
            }
        }

        foreach (var span in spans)
        {
            var own = spanIndex[(span.TraceId, span.SpanId)];
            span.SpanId = ByteString.CopyFrom(spanSentinels[own]);
            span.TraceId = ByteString.CopyFrom(traceSentinels[traceIndex[span.TraceId]]);
        }

        var bytes = Encode(copy, format);
        var hex = format == PayloadFormat.Json;
        var traceSlots = Locate(bytes, traceSentinels, hex, [.. spansPerTrace], "trace");
        var spanSlots = Locate(bytes, spanSentinels, hex, expectedSpanOccurrences, "span");
        return new RequestTemplate(format, bytes, traceSlots, spanSlots, [.. spansPerTrace]);
    }

    /// <summary>
    /// A template of a logs <paramref name="request"/>. With <paramref name="traces"/> (the request of the
    /// traces template sent beside it), trace and span ids are numbered as that template numbers them, so
    /// a request stamped with the same number names the spans sent beside it (a GenAI instrumentation's
    /// events); without, by their first appearance. Records without a trace id keep none.
    /// </summary>
    public static RequestTemplate CreateLogs(ExportLogsServiceRequest request, PayloadFormat format, ExportTraceServiceRequest? traces = null)
    {
        var random = new Random(20_250_102);
        var sentinels = new HashSet<uint>();
        var copy = request.Clone();
        var records = copy.ResourceLogs.SelectMany(r => r.ScopeLogs).SelectMany(s => s.LogRecords).ToList();
        var traceIndex = new Dictionary<ByteString, int>();
        var spanIndex = new Dictionary<(ByteString Trace, ByteString Span), int>();
        IEnumerable<(ByteString Trace, ByteString Span)> ids = traces is null
            ? records.Where(r => !r.TraceId.IsEmpty).Select(r => (r.TraceId, r.SpanId))
            : traces.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).Select(s => (s.TraceId, s.SpanId));
        foreach (var (trace, span) in ids)
        {
            traceIndex.TryAdd(trace, traceIndex.Count);
            if (!span.IsEmpty)
            {
                spanIndex.TryAdd((trace, span), spanIndex.Count);
            }
        }

        if (spanIndex.Count > RunIds.MaxPerRequest || traceIndex.Count > RunIds.MaxPerRequest)
        {
            throw new ArgumentException($"a template holds at most {RunIds.MaxPerRequest} ids of a kind; this request has {spanIndex.Count} span ids", nameof(request));
        }

        var traceSentinels = traceIndex.Select(_ => NewSentinel(random, 16, sentinels)).ToList();
        var spanSentinels = spanIndex.Select(_ => NewSentinel(random, 8, sentinels)).ToList();
        var recordsPerTrace = new int[traceIndex.Count];
        var spanOccurrences = new int[spanIndex.Count];
        foreach (var record in records.Where(r => !r.TraceId.IsEmpty))
        {
            var trace = traceIndex.TryGetValue(record.TraceId, out var t)
                ? t
                : throw new ArgumentException("every trace a template's log record names must be in the traces request", nameof(traces));
            recordsPerTrace[trace]++;
            if (!record.SpanId.IsEmpty)
            {
                var span = spanIndex[(record.TraceId, record.SpanId)];
                spanOccurrences[span]++;
                record.SpanId = ByteString.CopyFrom(spanSentinels[span]);
            }

            record.TraceId = ByteString.CopyFrom(traceSentinels[trace]);
        }

        var bytes = Encode(copy, format);
        var hex = format == PayloadFormat.Json;
        var traceSlots = Locate(bytes, traceSentinels, hex, recordsPerTrace, "trace");
        var spanSlots = Locate(bytes, spanSentinels, hex, spanOccurrences, "span");
        return new RequestTemplate(format, bytes, traceSlots, spanSlots, recordsPerTrace, records.Count);
    }

    /// <summary>A new buffer holding the template, for one sender to stamp again and again.</summary>
    public byte[] NewBuffer() => (byte[])_bytes.Clone();

    /// <summary>Writes request <paramref name="request"/>'s ids into <paramref name="buffer"/> (a copy of the template).</summary>
    public void Stamp(byte[] buffer, RunIds ids, long request)
    {
        Span<byte> id = stackalloc byte[16];
        for (var trace = 0; trace < _traceSlots.Length; trace++)
        {
            ids.WriteTraceId(id, request, trace);
            Write(buffer, _traceSlots[trace].Offsets, id);
        }

        for (var span = 0; span < _spanSlots.Length; span++)
        {
            RunIds.WriteSpanId(id, request, span);
            Write(buffer, _spanSlots[span].Offsets, id[..8]);
        }
    }

    private void Write(byte[] buffer, int[] offsets, ReadOnlySpan<byte> id)
    {
        if (Format == PayloadFormat.Json)
        {
            Span<byte> text = stackalloc byte[id.Length * 2];
            for (var i = 0; i < id.Length; i++)
            {
                text[2 * i] = HexDigit(id[i] >> 4);
                text[2 * i + 1] = HexDigit(id[i] & 0xF);
            }

            foreach (var offset in offsets)
            {
                text.CopyTo(buffer.AsSpan(offset));
            }

            return;
        }

        foreach (var offset in offsets)
        {
            id.CopyTo(buffer.AsSpan(offset));
        }
    }

    private static byte HexDigit(int value) => (byte)(value < 10 ? '0' + value : 'a' + value - 10);

    private static byte[] Encode(IMessage request, PayloadFormat format)
    {
        switch (format)
        {
            case PayloadFormat.Json:
                using (var stream = new MemoryStream())
                {
                    using (var writer = new Utf8JsonWriter(stream))
                    {
                        if (request is ExportLogsServiceRequest logs)
                        {
                            OtlpJsonWriter.WriteExportLogsServiceRequest(writer, logs);
                        }
                        else
                        {
                            OtlpJsonWriter.WriteExportTraceServiceRequest(writer, (ExportTraceServiceRequest)request);
                        }
                    }

                    return stream.ToArray();
                }

            case PayloadFormat.GrpcFrame:
                var message = request.ToByteArray();
                var frame = new byte[5 + message.Length];
                BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
                message.CopyTo(frame, 5);
                return frame;

            default:
                return request.ToByteArray();
        }
    }

    /// <summary>Random bytes whose first four differ from every other sentinel's (so do their first 8 hex digits).</summary>
    private static byte[] NewSentinel(Random random, int length, HashSet<uint> taken)
    {
        var bytes = new byte[length];
        do
        {
            random.NextBytes(bytes);
        }
        while (!taken.Add(BinaryPrimitives.ReadUInt32LittleEndian(bytes)));

        return bytes;
    }

    /// <summary>
    /// Finds every occurrence of every sentinel in one pass (keyed by their first 8 bytes, or 8 hex
    /// digits), and checks each occurs exactly as often as the request says: anything else would mean
    /// a sentinel matched other content, and stamping would corrupt it.
    /// </summary>
    private static IdSlot[] Locate(byte[] bytes, List<byte[]> sentinels, bool hex, int[] expected, string kind)
    {
        var patterns = sentinels.Select(s => hex ? System.Text.Encoding.ASCII.GetBytes(Convert.ToHexStringLower(s)) : s).ToArray();
        var byPrefix = new Dictionary<ulong, int>();
        for (var i = 0; i < patterns.Length; i++)
        {
            byPrefix.Add(BinaryPrimitives.ReadUInt64LittleEndian(patterns[i]), i);
        }

        var found = patterns.Select(_ => new List<int>()).ToArray();
        var span = bytes.AsSpan();
        for (var position = 0; position + 8 <= span.Length; position++)
        {
            if (byPrefix.TryGetValue(BinaryPrimitives.ReadUInt64LittleEndian(span[position..]), out var index)
                && span[position..].StartsWith(patterns[index]))
            {
                found[index].Add(position);
                position += patterns[index].Length - 1;
            }
        }

        for (var i = 0; i < patterns.Length; i++)
        {
            if (found[i].Count != expected[i])
            {
                throw new InvalidOperationException($"{kind} id {i} of the template occurs {found[i].Count} times in the encoding, {expected[i]} expected");
            }
        }

        return [.. found.Select(f => new IdSlot([.. f]))];
    }

    private readonly record struct IdSlot(int[] Offsets);
}
