using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Resource.V1;
using static Trulayer.Workload.StandardBatch;

namespace Trulayer.Workload;

/// <summary>
/// The standard log batches, beside <see cref="StandardBatch"/>'s spans, for the benchmarks, the load tool
/// and tests:
/// <list type="bullet">
/// <item><see cref="Application"/>: by default 1,000 application log records of 10 traces (one in five names
/// no trace), each with a body of about 200 bytes, 8 attributes and a severity.</item>
/// <item><see cref="GenAiEvents"/>: the log events a GenAI instrumentation writes beside a traces batch
/// (the OpenTelemetry JS <c>openai</c> instrumentation's shape): for every LLM span a
/// <c>gen_ai.user.message</c> and a <c>gen_ai.choice</c> event, with the prompt and completion text in the body.</item>
/// </list>
/// </summary>
public static class StandardLogs
{
    public const int DefaultRecords = 1000;

    private static readonly (SeverityNumber Number, string Text)[] Severities =
        [(SeverityNumber.Info, "INFO"), (SeverityNumber.Info, "INFO"), (SeverityNumber.Debug, "DEBUG"), (SeverityNumber.Warn, "WARN"), (SeverityNumber.Error, "ERROR")];

    public static ExportLogsServiceRequest Application(int records = DefaultRecords, int traces = StandardBatch.DefaultTraces, int? seed = null, DateTimeOffset? start = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(records, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(traces, 1);
        var random = seed is { } s ? new Random(s) : Random.Shared;
        var startNanos = Nanos(start);
        var traceIds = Enumerable.Range(0, traces).Select(_ => RandomBytes(random, 16)).ToArray();
        var scope = new ScopeLogs { Scope = new InstrumentationScope { Name = "bench.app", Version = "1.0.0" } };
        for (var i = 0; i < records; i++)
        {
            var (number, text) = Severities[i % Severities.Length];
            var record = new LogRecord
            {
                TimeUnixNano = startNanos + (ulong)i * 1000,
                ObservedTimeUnixNano = startNanos + (ulong)i * 1000 + 500,
                SeverityNumber = number,
                SeverityText = text,
                Body = new AnyValue { StringValue = $"request {i} handled by worker {i % 16} after {random.Next(1, 900)} ms; cache {(i % 2 == 0 ? "hit" : "miss")}, upstream answered with status 200 and 3 retrieved documents" },
                Attributes =
                {
                    Str("code.function", "HandleRequest"),
                    Str("code.namespace", "Bench.App.Handlers"),
                    Int("thread.id", i % 32),
                    Str("http.route", "/v1/chat"),
                    Int("http.response.status_code", number >= SeverityNumber.Error ? 500 : 200),
                    Bool("cache.hit", i % 2 == 0),
                    Dbl("app.score", i * 0.01),
                    Str("app.request_id", "req-" + i.ToString("x8", System.Globalization.CultureInfo.InvariantCulture)),
                },
            };
            if (i % 5 != 4)
            {
                record.TraceId = traceIds[i % traces];
                record.SpanId = RandomBytes(random, 8);
                record.Flags = 1;
            }

            scope.LogRecords.Add(record);
        }

        return Request(Resource("bench-api"), scope);
    }

    /// <summary>The GenAI log events of <paramref name="traces"/>'s LLM spans (those with gen_ai.system).</summary>
    public static ExportLogsServiceRequest GenAiEvents(ExportTraceServiceRequest traces)
    {
        var scope = new ScopeLogs { Scope = new InstrumentationScope { Name = "@opentelemetry/instrumentation-openai", Version = "0.1.0" } };
        foreach (var span in traces.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans))
        {
            var system = span.Attributes.FirstOrDefault(a => a.Key == "gen_ai.system")?.Value.StringValue;
            if (system is null)
            {
                continue;
            }

            var prompt = span.Attributes.FirstOrDefault(a => a.Key == "gen_ai.prompt")?.Value.StringValue ?? "";
            var completion = span.Attributes.FirstOrDefault(a => a.Key == "gen_ai.completion")?.Value.StringValue ?? "";
            scope.LogRecords.Add(Event(span, "gen_ai.user.message", system, span.StartTimeUnixNano, Map(("content", prompt))));
            scope.LogRecords.Add(Event(span, "gen_ai.choice", system, span.EndTimeUnixNano, Map(
                ("index", new AnyValue { IntValue = 0 }),
                ("finish_reason", new AnyValue { StringValue = "stop" }),
                ("message", new AnyValue { KvlistValue = new KeyValueList { Values = { new KeyValue { Key = "content", Value = new AnyValue { StringValue = completion } } } } }))));
        }

        return Request(Resource("bench-agent"), scope);
    }

    public static int RecordCount(ExportLogsServiceRequest request)
        => request.ResourceLogs.SelectMany(r => r.ScopeLogs).Sum(s => s.LogRecords.Count);

    private static LogRecord Event(OpenTelemetry.Proto.Trace.V1.Span span, string name, string system, ulong time, AnyValue body) => new()
    {
        TimeUnixNano = time,
        ObservedTimeUnixNano = time,
        SeverityNumber = SeverityNumber.Info,
        EventName = name,
        Body = body,
        // Older instrumentations name the event with this attribute instead of event_name; both are sent.
        Attributes = { Str("event.name", name), Str("gen_ai.system", system) },
        TraceId = span.TraceId,
        SpanId = span.SpanId,
        Flags = 1,
    };

    private static AnyValue Map(params (string Key, string Value)[] items)
        => Map([.. items.Select(i => (i.Key, new AnyValue { StringValue = i.Value }))]);

    private static AnyValue Map(params (string Key, AnyValue Value)[] items)
    {
        var list = new KeyValueList();
        foreach (var (key, value) in items)
        {
            list.Values.Add(new KeyValue { Key = key, Value = value });
        }

        return new AnyValue { KvlistValue = list };
    }

    private static ExportLogsServiceRequest Request(Resource resource, ScopeLogs scope) => new()
    {
        ResourceLogs = { new ResourceLogs { Resource = resource, ScopeLogs = { scope }, SchemaUrl = "https://opentelemetry.io/schemas/1.36.0" } },
    };

    private static Resource Resource(string service) => new()
    {
        Attributes = { Str("service.name", service), Str("service.version", "1.4.2"), Str("deployment.environment", "bench"), Str("telemetry.sdk.language", "nodejs") },
    };

    private static ulong Nanos(DateTimeOffset? start) => (ulong)((start ?? DateTimeOffset.UtcNow.AddMinutes(-1)).ToUnixTimeMilliseconds() * 1_000_000);
}
