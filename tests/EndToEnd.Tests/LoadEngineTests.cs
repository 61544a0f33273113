using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Json;
using Trulayer.Workload;
using Trulayer.Workload.Load;

namespace Trulayer.EndToEnd.Tests;

/// <summary>The load engine's own parts: ids that say where they came from, templates stamped in place, percentiles, the retry rules.</summary>
public sealed class LoadEngineTests
{
    [Fact]
    public void RunIds_TraceId_ReadsBackAsItsRequestAndTrace()
    {
        var ids = new RunIds(0x0123456789ABCDEF);
        var traceId = new byte[16];
        foreach (var (request, trace) in new[] { (1L, 0), (1L, 9), (2L, 0), (123_456_789L, 65_535), (long.MaxValue >> 16, 3) })
        {
            ids.WriteTraceId(traceId, request, trace);

            Assert.True(ids.TryReadTraceId(traceId, out var readRequest, out var readTrace));
            Assert.Equal((request, trace), (readRequest, readTrace));
            var (low, high) = ids.TraceIdRange;
            var guid = new Guid(traceId, bigEndian: true);
            Assert.True(guid.CompareTo(low) >= 0 && guid.CompareTo(high) <= 0);
        }

        Assert.False(new RunIds(42).TryReadTraceId(traceId, out _, out _));
    }

    [Fact]
    public void RunIds_SpanIds_AreUniqueAndNeverZeroAcrossRequests()
    {
        var seen = new HashSet<ulong>();
        var id = new byte[8];
        for (long request = 1; request <= 20; request++)
        {
            for (var span = 0; span < 10_000; span++)
            {
                RunIds.WriteSpanId(id, request, span);
                var value = BitConverter.ToUInt64(id);
                Assert.NotEqual(0UL, value);
                Assert.True(seen.Add(value));
            }
        }
    }

    [Theory]
    [InlineData(PayloadFormat.Protobuf)]
    [InlineData(PayloadFormat.Json)]
    [InlineData(PayloadFormat.GrpcFrame)]
    public void RequestTemplate_Stamp_GivesFreshIdsAndLeavesEverythingElseAsIs(PayloadFormat format)
    {
        var original = StandardBatch.GenAi(spans: 200, traces: 4, seed: 9);
        var template = RequestTemplate.Create(original, format);
        var ids = RunIds.NewRun();
        var buffer = template.NewBuffer();

        template.Stamp(buffer, ids, request: 77);
        var stamped = Decode(buffer, format);

        var spans = Spans(stamped);
        var originalSpans = Spans(original);
        Assert.Equal(originalSpans.Count, spans.Count);
        Assert.Equal(4, template.TraceCount);
        var traceIndex = new Dictionary<ByteString, int>();
        foreach (var span in originalSpans)
        {
            traceIndex.TryAdd(span.TraceId, traceIndex.Count);
        }

        for (var i = 0; i < spans.Count; i++)
        {
            Assert.True(ids.TryReadTraceId(spans[i].TraceId.Span, out var request, out var trace));
            Assert.Equal(77, request);
            Assert.Equal(traceIndex[originalSpans[i].TraceId], trace);
            var spanId = new byte[8];
            RunIds.WriteSpanId(spanId, 77, i);
            Assert.Equal(spanId, spans[i].SpanId.ToByteArray());
            var root = originalSpans.FindIndex(s => s.TraceId == originalSpans[i].TraceId && s.ParentSpanId.IsEmpty);
            Assert.Equal(originalSpans[i].ParentSpanId.IsEmpty ? ByteString.Empty : spans[root].SpanId, spans[i].ParentSpanId);

            var comparable = spans[i].Clone();
            comparable.TraceId = originalSpans[i].TraceId;
            comparable.SpanId = originalSpans[i].SpanId;
            comparable.ParentSpanId = originalSpans[i].ParentSpanId;
            Assert.Equal(originalSpans[i], comparable);
        }

        template.Stamp(buffer, ids, request: 78);
        Assert.NotEqual(spans[0].TraceId, Spans(Decode(buffer, format))[0].TraceId);
    }

    [Fact]
    public void LatencyHistogram_Percentiles_AreWithinOnePercent()
    {
        var histogram = new LatencyHistogram();
        for (var micros = 1; micros <= 100_000; micros++)
        {
            histogram.Record(TimeSpan.FromMicroseconds(micros));
        }

        var snapshot = histogram.Snapshot();
        Assert.Equal(100_000, snapshot.Count);
        Assert.InRange(snapshot.Percentile(50).TotalMicroseconds, 49_500, 50_500);
        Assert.InRange(snapshot.Percentile(99).TotalMicroseconds, 98_010, 99_990);
        Assert.InRange(snapshot.Max.TotalMicroseconds, 99_000, 101_000);

        histogram.Record(TimeSpan.FromSeconds(2));
        Assert.Equal(1, histogram.Snapshot().Since(snapshot).Count);
        Assert.InRange(histogram.Snapshot().Since(snapshot).Percentile(50).TotalSeconds, 1.98, 2.02);
    }

    [Theory]
    [InlineData(429, true)]
    [InlineData(502, true)]
    [InlineData(503, true)]
    [InlineData(504, true)]
    [InlineData(400, false)]
    [InlineData(401, false)]
    [InlineData(413, false)]
    [InlineData(415, false)]
    [InlineData(500, false)]
    public void RetryPolicy_HttpStatus_RetriesOnlyWhatOtlpAllows(int status, bool retryable)
        => Assert.Equal(retryable, RetryPolicy.IsRetryableHttpStatus(status));

    [Theory]
    [InlineData(14, false, true)] // UNAVAILABLE
    [InlineData(4, false, true)] // DEADLINE_EXCEEDED
    [InlineData(8, true, true)] // RESOURCE_EXHAUSTED with a server-given delay
    [InlineData(8, false, false)] // ... without one
    [InlineData(3, false, false)] // INVALID_ARGUMENT
    [InlineData(16, false, false)] // UNAUTHENTICATED
    [InlineData(13, false, false)] // INTERNAL
    public void RetryPolicy_GrpcStatus_RetriesOnlyWhatOtlpAllows(int code, bool serverGaveDelay, bool retryable)
        => Assert.Equal(retryable, RetryPolicy.IsRetryableGrpcStatus(code, serverGaveDelay));

    [Fact]
    public void RetryPolicy_Delay_HonorsTheServerElseBacksOffExponentiallyWithJitterUpToTheCap()
    {
        var policy = new RetryPolicy { InitialBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromSeconds(1) };
        var random = new Random(5);

        for (var i = 0; i < 100; i++)
        {
            Assert.InRange(policy.Delay(1, TimeSpan.FromSeconds(5), random).TotalSeconds, 5, 5.5);
            Assert.InRange(policy.Delay(1, null, random).TotalMilliseconds, 50, 100);
            Assert.InRange(policy.Delay(3, null, random).TotalMilliseconds, 200, 400);
            Assert.InRange(policy.Delay(20, null, random).TotalMilliseconds, 500, 1000);
        }
    }

    private static ExportTraceServiceRequest Decode(byte[] buffer, PayloadFormat format)
    {
        switch (format)
        {
            case PayloadFormat.Json:
                using (var transcoded = OtlpJson.TranscodeTraces(buffer))
                {
                    return ExportTraceServiceRequest.Parser.ParseFrom(transcoded.Bytes.Span);
                }

            case PayloadFormat.GrpcFrame:
                return ExportTraceServiceRequest.Parser.ParseFrom(buffer.AsSpan(5));
            default:
                return ExportTraceServiceRequest.Parser.ParseFrom(buffer);
        }
    }

    /// <summary>The spans in the order they are encoded, which is the order the template numbers them.</summary>
    private static List<Span> Spans(ExportTraceServiceRequest request)
        => [.. request.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans)];
}
