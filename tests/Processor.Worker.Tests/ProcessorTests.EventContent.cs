using System.Text.Json;
using Google.Protobuf;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;
using static Trulayer.Processor.Tests.TestSpans;

namespace Trulayer.Processor.Tests;

/// <summary>A span's input and output from its GenAI log events, whichever of the span and its events is stored first.</summary>
public sealed partial class ProcessorTests
{
    private const string UserQuestion = """[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]""";
    private const string Answer = """[{"role":"assistant","parts":[{"type":"text","content":"Sunny, 21 C."}],"finish_reason":"stop"}]""";

    /// <summary>The JS openai instrumentation's chat span: model and usage as attributes, no content (that goes to log events).</summary>
    private static OpenTelemetry.Proto.Trace.V1.Span ChatSpan(ByteString trace, DateTimeOffset start, params KeyValue[] extra)
        => Span(trace, "chat gpt-4o-mini", start, TimeSpan.FromSeconds(1), null,
            [Str("gen_ai.operation.name", "chat"), Str("gen_ai.system", "openai"), Str("gen_ai.request.model", "gpt-4o-mini"),
             Int("gen_ai.usage.input_tokens", 12), Int("gen_ai.usage.output_tokens", 5), .. extra]);

    private static LogRecord UserMessage(OpenTelemetry.Proto.Trace.V1.Span span, string text) => Event(span, "gen_ai.user.message", 1,
        new AnyValue { KvlistValue = new KeyValueList { Values = { Str("content", text) } } });

    private static LogRecord Choice(OpenTelemetry.Proto.Trace.V1.Span span, string text) => Event(span, "gen_ai.choice", 900, new AnyValue
    {
        KvlistValue = new KeyValueList
        {
            Values =
            {
                Int("index", 0),
                Str("finish_reason", "stop"),
                new KeyValue { Key = "message", Value = new AnyValue { KvlistValue = new KeyValueList { Values = { Str("content", text) } } } },
            },
        },
    });

    private static LogRecord Event(OpenTelemetry.Proto.Trace.V1.Span span, string name, int afterMs, AnyValue body) => new()
    {
        TimeUnixNano = span.StartTimeUnixNano + (ulong)afterMs * 1_000_000,
        EventName = name,
        TraceId = span.TraceId,
        SpanId = span.SpanId,
        Body = body,
        Attributes = { Str("gen_ai.system", "openai") },
    };

    private async Task DeliverLogs(Guid project, ByteString trace, params LogRecord[] records)
    {
        await SpanRecords.ProduceAsync(Kafka, [LogRecords.Record(project, trace, "chat-app", records)], fixture.LogsTopic);
        await ProcessorHost.WaitUntilDrainedAsync(Kafka, fixture.LogsTopic);
    }

    private async Task<(string? Input, string? Output, bool FromEvents)> StoredContent(Guid project, ByteString span)
    {
        await using var command = Db.CreateCommand(
            $"SELECT input_text, output_text, content_from_events FROM telemetry.spans WHERE project_id = '{project}' AND span_id = {System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(span.Span)}");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), "the span is not stored");
        return (reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetBoolean(2));
    }

    [Fact]
    public async Task EventsFirst_ThenTheSpan_TheSpanTakesTheirContent()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var span = ChatSpan(trace, DateTimeOffset.UtcNow.AddMinutes(-3));

        await DeliverLogs(project, trace, UserMessage(span, "Weather in Paris?"), Choice(span, "Sunny, 21 C."));
        await Deliver(Record(project, trace, "chat-app", span));

        Assert.Equal((UserQuestion, Answer, true), await StoredContent(project, span.SpanId));
    }

    [Fact]
    public async Task SpanFirst_ThenItsEventsInTwoBatchesMinutesApart_EachFillsItsPart()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var span = ChatSpan(trace, DateTimeOffset.UtcNow.AddMinutes(-5));
        await Deliver(Record(project, trace, "chat-app", span));
        Assert.Equal((null, null, false), await StoredContent(project, span.SpanId));

        await DeliverLogs(project, trace, UserMessage(span, "Weather in Paris?"));
        Assert.Equal((UserQuestion, null, true), await StoredContent(project, span.SpanId));

        await DeliverLogs(project, trace, Choice(span, "Sunny, 21 C."));
        Assert.Equal((UserQuestion, Answer, true), await StoredContent(project, span.SpanId));

        // A redelivery of the same events stores nothing twice and leaves the content as it is.
        await DeliverLogs(project, trace, UserMessage(span, "Weather in Paris?"), Choice(span, "Sunny, 21 C."));
        Assert.Equal((UserQuestion, Answer, true), await StoredContent(project, span.SpanId));
        Assert.Equal(2, await ProcessorHost.CountAsync(Db, $"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}'"));
    }

    [Fact]
    public async Task MessageEventsOfOneTime_FoldInTheOrderTheyWereSent()
    {
        // The JS openai instrumentation stamps a call's message events within one millisecond: the history must not
        // come out in the order of the records' content hashes.
        var project = Guid.NewGuid();
        var trace = Id(16);
        var span = ChatSpan(trace, DateTimeOffset.UtcNow.AddMinutes(-6));
        (string Role, string Text)[] history =
        [
            ("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello, how can I help?"),
            ("user", "Weather in Paris?"), ("assistant", "Sunny, 21 C."), ("user", "And tomorrow?"),
        ];
        var events = history.Select(m => Event(span, $"gen_ai.{m.Role}.message", 1,
            new AnyValue { KvlistValue = new KeyValueList { Values = { Str("content", m.Text) } } })).ToArray();
        await Deliver(Record(project, trace, "chat-app", span));

        await DeliverLogs(project, trace, events);

        var (input, _, fromEvents) = await StoredContent(project, span.SpanId);
        Assert.True(fromEvents);
        using var messages = JsonDocument.Parse(input!);
        Assert.Equal(
            history.Select(m => $"{m.Role}: {m.Text}"),
            messages.RootElement.EnumerateArray().Select(m => $"{m.GetProperty("role").GetString()}: {m.GetProperty("parts")[0].GetProperty("content").GetString()}"));
    }

    [Fact]
    public async Task ContentFromAttributes_IsNeverReplacedByEvents()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var span = ChatSpan(trace, DateTimeOffset.UtcNow.AddMinutes(-2), Str("gen_ai.input.messages", UserQuestion), Str("gen_ai.output.messages", Answer));
        await Deliver(Record(project, trace, "chat-app", span));

        await DeliverLogs(project, trace, UserMessage(span, "something else"), Choice(span, "another answer"));

        Assert.Equal((UserQuestion, Answer, false), await StoredContent(project, span.SpanId));
    }

    [Fact]
    public async Task OperationDetailsEvent_Semconv137_FillsInputWithSystemInstructionsAndOutput()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var span = ChatSpan(trace, DateTimeOffset.UtcNow.AddMinutes(-1));
        var details = new LogRecord
        {
            TimeUnixNano = span.EndTimeUnixNano,
            EventName = "gen_ai.client.inference.operation.details",
            TraceId = span.TraceId,
            SpanId = span.SpanId,
            Attributes = { Str("gen_ai.input.messages", UserQuestion), Str("gen_ai.output.messages", Answer), Str("gen_ai.system_instructions", "Be brief.") },
        };
        await Deliver(Record(project, trace, "chat-app", span));

        await DeliverLogs(project, trace, details);

        var (input, output, fromEvents) = await StoredContent(project, span.SpanId);
        Assert.True(fromEvents);
        Assert.Equal(Answer, output);
        using var messages = JsonDocument.Parse(input!);
        Assert.Equal(["system", "user"], messages.RootElement.EnumerateArray().Select(m => m.GetProperty("role").GetString()));
    }

    [Fact]
    public async Task EventsWhoseSpanNeverArrives_StayReadableAsLogs()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var span = ChatSpan(trace, DateTimeOffset.UtcNow.AddMinutes(-4));

        await DeliverLogs(project, trace, UserMessage(span, "Weather in Paris?"), Choice(span, "Sunny, 21 C."));

        Assert.Equal(2, await ProcessorHost.CountAsync(Db, $"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}' AND event_name LIKE 'gen_ai.%'"));
        Assert.Equal(0, await ProcessorHost.CountAsync(Db, $"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}'"));
    }
}
