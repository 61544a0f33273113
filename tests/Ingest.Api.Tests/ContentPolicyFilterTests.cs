using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Ingest.Pipeline;
using Trulayer.Otlp.Pipeline;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Ingest.Tests;

/// <summary>A project's content policy applied to the scanned request, as ingest applies it before composing its records.</summary>
public sealed class ContentPolicyFilterTests
{
    private static readonly Guid Project = Guid.Parse("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f");
    private const ulong Now = 1_750_000_000_000_000_000;
    private const string Prompt = "mail jane.doe@example.com the report; my key is sk-proj-abcdefghijklmnop1234 and the ticket is ACME-123456";
    private static readonly ContentPolicy Redact = new(ContentMode.Redact, ["ACME-[0-9]{6}"]);
    private static readonly ContentPolicy Drop = new(ContentMode.Drop, []);

    private static List<Span> Spans(ExportTraceServiceRequest request, ContentPolicy policy)
    {
        var options = new IngestOptions();
        var scan = new ExportRequestScanner(options).Scan(request.ToByteArray(), Now);
        new ContentPolicyFilter().Apply(scan, policy, OtlpSignal.Traces);
        return [.. SpanBatchComposer.Compose(scan, Project, Now, options.MaxRecordBytes)
            .Select(r => SpanBatch.Parser.ParseFrom(r.Value))
            .SelectMany(b => b.ResourceSpans).SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans)];
    }

    private static List<LogRecord> Records(ExportLogsServiceRequest request, ContentPolicy policy)
    {
        var options = new IngestOptions();
        var scan = new LogsRequestScanner(options).Scan(request.ToByteArray(), Now);
        new ContentPolicyFilter().Apply(scan, policy, OtlpSignal.Logs);
        return [.. SpanBatchComposer.Compose(scan, Project, Now, options.MaxRecordBytes)
            .Select(r => LogBatch.Parser.ParseFrom(r.Value))
            .SelectMany(b => b.ResourceLogs).SelectMany(r => r.ScopeLogs).SelectMany(s => s.LogRecords)];
    }

    private static KeyValue Attribute(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    private static string? Value(IEnumerable<KeyValue> attributes, string key) => attributes.FirstOrDefault(a => a.Key == key)?.Value.StringValue;

    private static Span LlmSpan(byte seed) => new()
    {
        TraceId = ByteString.CopyFrom(Enumerable.Repeat(seed, 16).ToArray()),
        SpanId = ByteString.CopyFrom(Enumerable.Repeat(seed, 8).ToArray()),
        Name = "chat gpt-4o",
        StartTimeUnixNano = Now - 1000,
        EndTimeUnixNano = Now,
        Attributes =
        {
            Attribute("gen_ai.request.model", "gpt-4o"),
            Attribute("gen_ai.prompt", Prompt),
            Attribute("gen_ai.completion", "sent to jane.doe@example.com"),
            Attribute("llm.input_messages.0.message.content", Prompt),
            Attribute("gen_ai.system_instructions", "answer ACME-654321 politely"),
            Attribute("enduser.email", "jane.doe@example.com"),
        },
        Events = { new Span.Types.Event { Name = "gen_ai.content.prompt", TimeUnixNano = Now - 900, Attributes = { Attribute("gen_ai.prompt", Prompt) } } },
    };

    private static Span PlainSpan(byte seed) => new()
    {
        TraceId = ByteString.CopyFrom(Enumerable.Repeat(seed, 16).ToArray()),
        SpanId = ByteString.CopyFrom(Enumerable.Repeat(seed, 8).ToArray()),
        Name = "GET /health",
        StartTimeUnixNano = Now - 1000,
        EndTimeUnixNano = Now,
        Attributes = { Attribute("http.route", "/health"), Attribute("enduser.email", "jane.doe@example.com") },
    };

    private static ExportTraceServiceRequest RequestOf(params Span[] spans) => new()
    {
        ResourceSpans = { new ResourceSpans { ScopeSpans = { new ScopeSpans { Scope = new InstrumentationScope { Name = "openai" }, Spans = { spans } } } } },
    };

    [Fact]
    public void Drop_RemovesEveryContentAttribute_KeepsTheRest_AndMarksTheSpan()
    {
        var span = Spans(RequestOf(LlmSpan(1)), Drop).Single();

        Assert.Equal(["gen_ai.request.model", "enduser.email", ContentPolicyFilter.MarkAttribute], span.Attributes.Select(a => a.Key));
        Assert.Equal("drop", Value(span.Attributes, ContentPolicyFilter.MarkAttribute));
        Assert.Empty(span.Events.Single().Attributes);
        Assert.DoesNotContain("ACME-123456", span.ToByteString().ToStringUtf8(), StringComparison.Ordinal);
    }

    [Fact]
    public void Redact_ReplacesEmailsKeysAndTheOwnersPatterns_InContentOnly()
    {
        var span = Spans(RequestOf(LlmSpan(1)), Redact).Single();

        const string Expected = "mail [REDACTED] the report; my key is [REDACTED] and the ticket is [REDACTED]";
        Assert.Equal(Expected, Value(span.Attributes, "gen_ai.prompt"));
        Assert.Equal(Expected, Value(span.Attributes, "llm.input_messages.0.message.content"));
        Assert.Equal("sent to [REDACTED]", Value(span.Attributes, "gen_ai.completion"));
        Assert.Equal("answer [REDACTED] politely", Value(span.Attributes, "gen_ai.system_instructions"));
        Assert.Equal(Expected, Value(span.Events.Single().Attributes, "gen_ai.prompt"));
        // Not content: attributes the GenAI mapping does not read as prompt or completion are kept as sent.
        Assert.Equal("jane.doe@example.com", Value(span.Attributes, "enduser.email"));
        Assert.Equal("gpt-4o", Value(span.Attributes, "gen_ai.request.model"));
        Assert.Equal("redact", Value(span.Attributes, ContentPolicyFilter.MarkAttribute));
    }

    [Fact]
    public void SpansWithoutContent_KeepTheirBytesAsReceived()
    {
        var plain = PlainSpan(2);

        var spans = Spans(RequestOf(LlmSpan(1), plain), Drop);

        Assert.Equal(plain.ToByteString(), spans.Single(s => s.Name == plain.Name).ToByteString());
    }

    [Fact]
    public void GenAiLogEvents_LoseOrRedactTheirBodies_ApplicationLogsKeepTheirs()
    {
        var genAi = new LogRecord
        {
            TimeUnixNano = Now,
            EventName = "gen_ai.user.message",
            Body = new AnyValue { KvlistValue = new KeyValueList { Values = { Attribute("content", Prompt) } } },
            Attributes = { Attribute("gen_ai.system", "openai") },
        };
        var legacyEvent = new LogRecord
        {
            TimeUnixNano = Now,
            Body = new AnyValue { StringValue = Prompt },
            Attributes = { Attribute("event.name", "gen_ai.choice") },
        };
        var application = new LogRecord { TimeUnixNano = Now, Body = new AnyValue { StringValue = "sent to jane.doe@example.com" } };
        var request = new ExportLogsServiceRequest
        {
            ResourceLogs = { new ResourceLogs { ScopeLogs = { new ScopeLogs { LogRecords = { genAi, legacyEvent, application } } } } },
        };

        var dropped = Records(request, Drop);
        var redacted = Records(request, Redact);

        Assert.Null(dropped[0].Body);
        Assert.Null(dropped[1].Body);
        Assert.Equal("drop", Value(dropped[0].Attributes, ContentPolicyFilter.MarkAttribute));
        Assert.Equal(application.ToByteString(), dropped[2].ToByteString());
        Assert.Equal("mail [REDACTED] the report; my key is [REDACTED] and the ticket is [REDACTED]", redacted[0].Body.KvlistValue.Values.Single().Value.StringValue);
        Assert.Equal("mail [REDACTED] the report; my key is [REDACTED] and the ticket is [REDACTED]", redacted[1].Body.StringValue);
        Assert.Equal(application.ToByteString(), redacted[2].ToByteString());
    }

    [Fact]
    public void Store_ChangesNothing()
    {
        var request = RequestOf(LlmSpan(1));

        var span = Spans(request, ContentPolicy.Store).Single();

        Assert.Equal(request.ResourceSpans[0].ScopeSpans[0].Spans[0].ToByteString(), span.ToByteString());
    }
}
