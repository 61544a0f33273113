using Google.Protobuf;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace Trulayer.Processor.Tests;

/// <summary>Small hand-made spans for tests that need exact values.</summary>
internal static class TestSpans
{
    public static ByteString Id(int length) => ByteString.CopyFrom(System.Security.Cryptography.RandomNumberGenerator.GetBytes(length));

    public static ulong Nanos(DateTimeOffset time) => (ulong)(time.ToUnixTimeMilliseconds() * 1_000_000);

    public static Span Span(ByteString traceId, string name, DateTimeOffset start, TimeSpan duration, ByteString? parent = null, params KeyValue[] attributes) => new()
    {
        TraceId = traceId,
        SpanId = Id(8),
        ParentSpanId = parent ?? ByteString.Empty,
        Name = name,
        Kind = OpenTelemetry.Proto.Trace.V1.Span.Types.SpanKind.Internal,
        StartTimeUnixNano = Nanos(start),
        EndTimeUnixNano = Nanos(start + duration),
        Attributes = { attributes },
    };

    public static KeyValue Str(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    public static KeyValue Int(string key, long value) => new() { Key = key, Value = new AnyValue { IntValue = value } };

    public static KeyValue Dbl(string key, double value) => new() { Key = key, Value = new AnyValue { DoubleValue = value } };
}
