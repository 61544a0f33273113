using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace Trulayer.Export.Tests;

/// <summary>
/// A batch that uses every part of the OTLP trace model: two resources with and without schema URLs,
/// scopes with attributes and without a scope message, every AnyValue kind (nested arrays and maps,
/// bytes, NaN and infinities, int64 beyond 2^53, strings with escapes and U+0000), events, links with
/// trace state and flags, dropped counts, every status, every span kind, flags, times to the nanosecond.
/// </summary>
internal static class VariedBatch
{
    public static ExportTraceServiceRequest Create(DateTimeOffset start)
    {
        var random = new Random(20261122);
        var t0 = (ulong)start.ToUnixTimeMilliseconds() * 1_000_000 + 123_456_789;
        var traceA = Id(random, 16);
        var traceB = Id(random, 16);
        var root = Id(random, 8);

        var api = new ResourceSpans
        {
            Resource = new Resource
            {
                Attributes = { Str("service.name", "checkout-api"), Str("host.name", "ip-10-0-0-1"), Int("process.pid", 4242) },
                DroppedAttributesCount = 2,
            },
            SchemaUrl = "https://opentelemetry.io/schemas/1.27.0",
            ScopeSpans =
            {
                new ScopeSpans
                {
                    Scope = new InstrumentationScope
                    {
                        Name = "io.opentelemetry.http",
                        Version = "2.1.0",
                        Attributes = { Str("scope.kind", "http"), Bool("scope.auto", true) },
                        DroppedAttributesCount = 1,
                    },
                    SchemaUrl = "https://opentelemetry.io/schemas/1.26.0",
                    Spans =
                    {
                        new Span
                        {
                            TraceId = traceA, SpanId = root, Name = "POST /checkout", Kind = Span.Types.SpanKind.Server,
                            StartTimeUnixNano = t0, EndTimeUnixNano = t0 + 987_654_321,
                            TraceState = "vendor1=opaque,rojo=00f067aa0ba902b7", Flags = 0x301,
                            Attributes = { EveryValueKind() },
                            DroppedAttributesCount = 3,
                            Events =
                            {
                                new Span.Types.Event { TimeUnixNano = t0 + 1, Name = "exception", Attributes = { Str("exception.type", "TimeoutError"), Str("exception.message", "line1\nline2\t\"quoted\" \\ é 漢字 🚀") }, DroppedAttributesCount = 4 },
                                new Span.Types.Event { TimeUnixNano = t0 + 2, Name = "" },
                            },
                            DroppedEventsCount = 5,
                            Links =
                            {
                                new Span.Types.Link { TraceId = traceB, SpanId = Id(random, 8), TraceState = "k=v", Attributes = { Str("link.reason", "retry") }, DroppedAttributesCount = 6, Flags = 0x101 },
                                new Span.Types.Link { TraceId = Id(random, 16), SpanId = Id(random, 8) },
                            },
                            DroppedLinksCount = 7,
                            Status = new Status { Code = Status.Types.StatusCode.Error, Message = "upstream timed out" },
                        },
                        new Span
                        {
                            TraceId = traceA, SpanId = Id(random, 8), ParentSpanId = root, Name = "SELECT orders", Kind = Span.Types.SpanKind.Client,
                            StartTimeUnixNano = t0 + 1_001, EndTimeUnixNano = t0 + 2_002,
                            Attributes = { Str("db.system", "postgresql"), Str("db.statement", "SELECT * FROM orders WHERE id = $1") },
                            Status = new Status { Code = Status.Types.StatusCode.Ok },
                        },
                    },
                },
                new ScopeSpans
                {
                    // No scope message at all, and no schema URL.
                    Spans =
                    {
                        new Span
                        {
                            TraceId = traceA, SpanId = Id(random, 8), ParentSpanId = root, Name = "produce orders", Kind = Span.Types.SpanKind.Producer,
                            StartTimeUnixNano = t0 + 3_000_000, EndTimeUnixNano = t0 + 3_000_000,
                            Status = new Status { Message = "unset code, with a message" },
                        },
                    },
                },
            },
        };

        var worker = new ResourceSpans
        {
            Resource = new Resource { Attributes = { Str("service.name", "llm-worker"), Str("deployment.environment", "test") } },
            ScopeSpans =
            {
                new ScopeSpans
                {
                    Scope = new InstrumentationScope { Name = "opentelemetry.instrumentation.openai" },
                    Spans =
                    {
                        new Span
                        {
                            TraceId = traceB, SpanId = Id(random, 8), Name = "chat gpt-4o", Kind = Span.Types.SpanKind.Client,
                            StartTimeUnixNano = t0 + 5, EndTimeUnixNano = t0 + 1_500_000_007,
                            Attributes =
                            {
                                Str("gen_ai.system", "openai"), Str("gen_ai.request.model", "gpt-4o"), Str("gen_ai.response.model", "gpt-4o-2024-08-06"),
                                Int("gen_ai.usage.input_tokens", 1234), Int("gen_ai.usage.output_tokens", 56), Dbl("gen_ai.usage.cost", 0.0123),
                                Str("gen_ai.prompt", new string('p', 3000)), Str("gen_ai.completion", "The answer is 42."),
                            },
                        },
                        new Span
                        {
                            TraceId = traceB, SpanId = Id(random, 8), ParentSpanId = Id(random, 8), Name = "consume", Kind = Span.Types.SpanKind.Consumer,
                            StartTimeUnixNano = t0 + 6, EndTimeUnixNano = t0 + 7, Flags = 1,
                        },
                        new Span
                        {
                            TraceId = traceB, SpanId = Id(random, 8), Name = "", Kind = Span.Types.SpanKind.Unspecified,
                            StartTimeUnixNano = t0 + 8, EndTimeUnixNano = t0 + 9, Attributes = { new KeyValue { Key = "empty.value" } },
                        },
                    },
                },
            },
        };

        return new ExportTraceServiceRequest { ResourceSpans = { api, worker } };
    }

    private static IEnumerable<KeyValue> EveryValueKind() =>
    [
        Str("string", "plain"),
        Str("string.escapes", "quote\" backslash\\ newline\n tab\t nul\0 unicode é 漢字 🚀"),
        Str("string.empty", ""),
        Bool("bool.true", true),
        Bool("bool.false", false),
        Int("int.zero", 0),
        Int("int.negative", -42),
        Int("int.beyond.double", long.MaxValue),
        Int("int.min", long.MinValue),
        Dbl("double", 3.141592653589793),
        Dbl("double.tiny", 5e-324),
        Dbl("double.negative.zero", -0.0),
        Dbl("double.nan", double.NaN),
        Dbl("double.infinity", double.PositiveInfinity),
        Dbl("double.negative.infinity", double.NegativeInfinity),
        new KeyValue { Key = "bytes", Value = new AnyValue { BytesValue = ByteString.CopyFrom(0, 1, 2, 0xFE, 0xFF) } },
        new KeyValue { Key = "bytes.empty", Value = new AnyValue { BytesValue = ByteString.Empty } },
        new KeyValue
        {
            Key = "array",
            Value = new AnyValue
            {
                ArrayValue = new ArrayValue
                {
                    Values =
                    {
                        new AnyValue { StringValue = "a" }, new AnyValue { IntValue = 1 }, new AnyValue { DoubleValue = 1.5 }, new AnyValue { BoolValue = true },
                        new AnyValue { ArrayValue = new ArrayValue { Values = { new AnyValue { StringValue = "nested" } } } },
                        new AnyValue(),
                    },
                },
            },
        },
        new KeyValue { Key = "array.empty", Value = new AnyValue { ArrayValue = new ArrayValue() } },
        new KeyValue
        {
            Key = "kvlist",
            Value = new AnyValue
            {
                KvlistValue = new KeyValueList
                {
                    Values =
                    {
                        Str("inner", "value"),
                        new KeyValue { Key = "map", Value = new AnyValue { KvlistValue = new KeyValueList { Values = { Int("deep", 7) } } } },
                    },
                },
            },
        },
        new KeyValue { Key = "kvlist.empty", Value = new AnyValue { KvlistValue = new KeyValueList() } },
        Str("string", "duplicate key, kept as sent"),
    ];

    private static ByteString Id(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        bytes[0] |= 0x80; // span ids with the high bit set are negative bigints in storage
        return ByteString.CopyFrom(bytes);
    }

    private static KeyValue Str(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    private static KeyValue Int(string key, long value) => new() { Key = key, Value = new AnyValue { IntValue = value } };

    private static KeyValue Bool(string key, bool value) => new() { Key = key, Value = new AnyValue { BoolValue = value } };

    private static KeyValue Dbl(string key, double value) => new() { Key = key, Value = new AnyValue { DoubleValue = value } };
}
