using System.Text;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace Trulayer.Workload;

/// <summary>
/// The standard benchmark batches (DESIGN.md, "Performance"), used by every benchmark, the load tool
/// and tests so figures compare: by default 1,000 spans of 10 traces.
/// <list type="bullet">
/// <item><see cref="GenAi"/>: every span carries about 30 attributes; one span in three is an LLM span
/// with gen_ai.* usage attributes and a 2 KiB prompt.</item>
/// <item><see cref="Lean"/>: 8 attributes per span, nothing large.</item>
/// </list>
/// Trace and span ids are random (so repeated batches never collide) unless a seed is given.
/// </summary>
public static class StandardBatch
{
    public const int DefaultSpans = 1000;
    public const int DefaultTraces = 10;
    public const int PromptBytes = 2048;

    private static readonly string[] Models = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "llama-3.1-70b"];
    private static readonly string[] Systems = ["openai", "openai", "anthropic", "aws.bedrock"];
    private static readonly string[] Routes = ["/v1/chat", "/v1/agents/run", "/v1/search", "/v1/tools/call"];

    public static ExportTraceServiceRequest GenAi(int spans = DefaultSpans, int traces = DefaultTraces, int? seed = null, DateTimeOffset? start = null)
        => Build(spans, traces, seed, start, genAi: true);

    public static ExportTraceServiceRequest Lean(int spans = DefaultSpans, int traces = DefaultTraces, int? seed = null, DateTimeOffset? start = null)
        => Build(spans, traces, seed, start, genAi: false);

    /// <summary>Every trace id of a batch, for counting what arrived.</summary>
    public static IEnumerable<ByteString> TraceIds(ExportTraceServiceRequest request)
        => request.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).Select(s => s.TraceId).Distinct();

    public static int SpanCount(ExportTraceServiceRequest request)
        => request.ResourceSpans.SelectMany(r => r.ScopeSpans).Sum(s => s.Spans.Count);

    private static ExportTraceServiceRequest Build(int spanCount, int traceCount, int? seed, DateTimeOffset? start, bool genAi)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(spanCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(traceCount, 1);
        var random = seed is { } s ? new Random(s) : Random.Shared;
        var startNanos = (ulong)((start ?? DateTimeOffset.UtcNow.AddMinutes(-1)).ToUnixTimeMilliseconds() * 1_000_000);
        var prompt = Filler(random, PromptBytes);

        var resource = new Resource
        {
            Attributes =
            {
                Str("service.name", genAi ? "bench-agent" : "bench-api"),
                Str("service.version", "1.4.2"),
                Str("deployment.environment", "bench"),
                Str("telemetry.sdk.language", "dotnet"),
                Str("host.name", "bench-host-01"),
            },
        };
        var llmScope = new ScopeSpans { Scope = new InstrumentationScope { Name = "opentelemetry.instrumentation.openai", Version = "0.30.0" } };
        var appScope = new ScopeSpans { Scope = new InstrumentationScope { Name = "bench.app", Version = "1.0.0" } };

        var perTrace = (spanCount + traceCount - 1) / traceCount;
        var made = 0;
        for (var t = 0; t < traceCount && made < spanCount; t++)
        {
            var traceId = RandomBytes(random, 16);
            var rootId = RandomBytes(random, 8);
            var traceStart = startNanos + (ulong)t * 1_000_000;
            for (var i = 0; i < perTrace && made < spanCount; i++, made++)
            {
                var isLlm = genAi && made % 3 == 1;
                var span = new Span
                {
                    TraceId = traceId,
                    SpanId = i == 0 ? rootId : RandomBytes(random, 8),
                    ParentSpanId = i == 0 ? ByteString.Empty : rootId,
                    Name = i == 0 ? "agent.run" : isLlm ? "chat " + Models[made % Models.Length] : "step " + (i % 7),
                    Kind = i == 0 ? Span.Types.SpanKind.Server : isLlm ? Span.Types.SpanKind.Client : Span.Types.SpanKind.Internal,
                    StartTimeUnixNano = traceStart + (ulong)i * 1000,
                    EndTimeUnixNano = traceStart + (ulong)i * 1000 + 250_000 + (ulong)random.Next(0, 1_000_000),
                    Flags = 0x101,
                    Status = made % 17 == 0
                        ? new Status { Code = Status.Types.StatusCode.Error, Message = "upstream timeout" }
                        : new Status { Code = Status.Types.StatusCode.Ok },
                };
                if (genAi)
                {
                    AddGenAiAttributes(span, made, isLlm, prompt, random);
                }
                else
                {
                    AddLeanAttributes(span, made);
                }

                if (made % 10 == 0)
                {
                    span.Events.Add(new Span.Types.Event { TimeUnixNano = span.StartTimeUnixNano + 100, Name = "checkpoint", Attributes = { Int("step", i) } });
                }

                (isLlm ? llmScope : appScope).Spans.Add(span);
            }
        }

        var resourceSpans = new ResourceSpans { Resource = resource, SchemaUrl = "https://opentelemetry.io/schemas/1.27.0" };
        foreach (var scope in new[] { llmScope, appScope }.Where(s => s.Spans.Count > 0))
        {
            resourceSpans.ScopeSpans.Add(scope);
        }

        return new ExportTraceServiceRequest { ResourceSpans = { resourceSpans } };
    }

    private static void AddLeanAttributes(Span span, int index)
    {
        span.Attributes.Add(Str("http.request.method", index % 5 == 0 ? "POST" : "GET"));
        span.Attributes.Add(Str("http.route", Routes[index % Routes.Length]));
        span.Attributes.Add(Int("http.response.status_code", index % 17 == 0 ? 500 : 200));
        span.Attributes.Add(Str("url.scheme", "https"));
        span.Attributes.Add(Str("server.address", "api.internal"));
        span.Attributes.Add(Int("server.port", 443));
        span.Attributes.Add(Bool("cache.hit", index % 2 == 0));
        span.Attributes.Add(Dbl("app.score", index * 0.01));
    }

    private static void AddGenAiAttributes(Span span, int index, bool isLlm, string prompt, Random random)
    {
        if (isLlm)
        {
            var model = index % Models.Length;
            span.Attributes.Add(Str("gen_ai.system", Systems[model]));
            span.Attributes.Add(Str("gen_ai.operation.name", "chat"));
            span.Attributes.Add(Str("gen_ai.request.model", Models[model]));
            span.Attributes.Add(Str("gen_ai.response.model", Models[model] + "-2024-08-06"));
            span.Attributes.Add(Dbl("gen_ai.request.temperature", 0.2));
            span.Attributes.Add(Int("gen_ai.request.max_tokens", 1024));
            span.Attributes.Add(Dbl("gen_ai.request.top_p", 0.95));
            span.Attributes.Add(Int("gen_ai.usage.input_tokens", 400 + random.Next(0, 600)));
            span.Attributes.Add(Int("gen_ai.usage.output_tokens", 50 + random.Next(0, 300)));
            span.Attributes.Add(Int("gen_ai.usage.cache_read.input_tokens", random.Next(0, 200)));
            span.Attributes.Add(Dbl("gen_ai.usage.cost", 0.0001 * random.Next(1, 500)));
            span.Attributes.Add(Str("gen_ai.response.id", "chatcmpl-" + index.ToString("x8", System.Globalization.CultureInfo.InvariantCulture)));
            span.Attributes.Add(new KeyValue
            {
                Key = "gen_ai.response.finish_reasons",
                Value = new AnyValue { ArrayValue = new ArrayValue { Values = { new AnyValue { StringValue = "stop" } } } },
            });
            span.Attributes.Add(Str("gen_ai.prompt", prompt));
            span.Attributes.Add(Str("gen_ai.completion", prompt[..320]));
        }

        // Application attributes up to about 30 per span.
        var target = 30;
        var n = 0;
        while (span.Attributes.Count < target)
        {
            span.Attributes.Add((n % 4) switch
            {
                0 => Str($"app.field_{n}", "value-" + (index * 31 + n)),
                1 => Int($"app.count_{n}", index + n),
                2 => Bool($"app.flag_{n}", (index + n) % 2 == 0),
                _ => Dbl($"app.ratio_{n}", (index + n) / 7.0),
            });
            n++;
        }
    }

    private static string Filler(Random random, int length)
    {
        const string words = "the model answered with a careful summary of retrieved documents and tool results ";
        var builder = new StringBuilder(length);
        while (builder.Length < length)
        {
            builder.Append(words, random.Next(0, 10), 40);
        }

        return builder.ToString(0, length);
    }

    internal static ByteString RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        bytes[0] |= 1; // never all zeros: an all-zero id is invalid in OTLP
        return ByteString.CopyFrom(bytes);
    }

    internal static KeyValue Str(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    internal static KeyValue Int(string key, long value) => new() { Key = key, Value = new AnyValue { IntValue = value } };

    internal static KeyValue Bool(string key, bool value) => new() { Key = key, Value = new AnyValue { BoolValue = value } };

    internal static KeyValue Dbl(string key, double value) => new() { Key = key, Value = new AnyValue { DoubleValue = value } };
}
