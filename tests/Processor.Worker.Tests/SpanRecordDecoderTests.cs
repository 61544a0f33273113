using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.GenAi;
using Trulayer.Otlp.Pipeline;
using Trulayer.Otlp.Protobuf;
using Trulayer.Processor.Pipeline;
using static Trulayer.Processor.Tests.TestSpans;

namespace Trulayer.Processor.Tests;

public sealed class SpanRecordDecoderTests
{
    private static readonly Guid Project = Guid.NewGuid();
    private readonly SpanRecordDecoder _decoder = new(new DimensionCache(), 64);

    [Fact]
    public void Decode_StandardBatch_KeepsEachSpansBytesExactlyAndMapsTheColumns()
    {
        var request = Trulayer.Workload.StandardBatch.GenAi(spans: 30, traces: 1, seed: 7);
        var message = Assert.Single(SpanRecords.FromRequest(Project, request));
        var spans = request.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).ToList();

        var (record, letter) = _decoder.Decode(Consumed(message));

        Assert.Null(letter);
        Assert.Equal(30, record!.Spans.Count);
        // The texts were cut to the cap of 64 bytes, so the spans keep their prompts: each is stored whole.
        Assert.All(record.Spans, row => Assert.Contains(spans, s => s.ToByteString().Span.SequenceEqual(row.Otlp.Span)));
        Assert.All(record.Spans, row => Assert.Equal((null, null, null), (row.SpanSize, row.InputAt, row.OutputAt)));
        var llm = record.Spans.First(r => r.SpanType == SpanType.Llm);
        var original = OpenTelemetry.Proto.Trace.V1.Span.Parser.ParseFrom(llm.Otlp.Span);
        Assert.Equal(original.Attributes.Single(a => a.Key == "gen_ai.request.model").Value.StringValue, llm.GenAi.RequestModel);
        Assert.Equal(64, llm.GenAi.InputText!.Length);
        Assert.True(llm.GenAi.TextTruncated);
        Assert.Equal("bench-agent", llm.ServiceName);
        Assert.Equal(original.Attributes.Where(a => !GenAiPrecedence.IsContent(a.Key)).Select(a => AttributeHash.Of(a.Key, a.Value)), llm.AttributeHashes.Cast<int?>());
        Assert.Contains(AttributeHash.HashText($"gen_ai.usage.input_tokens={llm.GenAi.InputTokens}"), llm.AttributeHashes);
        Assert.Single(record.Resources);
        Assert.Equal(2, record.Scopes.Count);
        Assert.Single(record.Spans, r => r.IsRoot);
    }

    [Fact]
    public void Decode_PromptAndCompletion_AreStoredOnceAndComeBackExactly()
    {
        var prompt = "summarize: " + new string('x', 2000) + " ünïcödé 🚀";
        var span = Span(Id(16), "chat", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), null,
            Str("gen_ai.system", "openai"), Str("gen_ai.input.messages", prompt), Int("gen_ai.usage.input_tokens", 5),
            Str("gen_ai.output.messages", "done"), Str("after", "the content"));
        span.Events.Add(new OpenTelemetry.Proto.Trace.V1.Span.Types.Event { Name = "e", TimeUnixNano = span.StartTimeUnixNano });
        var original = span.ToByteArray();

        var row = new SpanRecordDecoder(new DimensionCache(), GenAiMapper.DefaultMaxTextBytes).Decode(Consumed(Message(span))).Record!.Spans.Single();

        Assert.Equal(prompt, row.GenAi.InputText);
        Assert.Equal("done", row.GenAi.OutputText);
        Assert.Equal(original.Length, row.SpanSize);
        Assert.Equal(-1, row.Otlp.Span.IndexOf(Encoding.UTF8.GetBytes(prompt)));
        Assert.True(row.Otlp.Length < original.Length - 2000);
        // What is stored is still a Span: the content attributes are there, without their values.
        var stored = OpenTelemetry.Proto.Trace.V1.Span.Parser.ParseFrom(row.Otlp.Span);
        Assert.Equal(new KeyValue { Key = "gen_ai.input.messages" }, stored.Attributes[1]);
        Assert.Equal(new KeyValue { Key = "gen_ai.output.messages" }, stored.Attributes[3]);
        Assert.Equal(original, Restore(row));
    }

    public static TheoryData<string, string, string, string> Forms() => new()
    {
        { "gen_ai.prompt", "summarize: " + new string('x', 2000) + " ünïcödé 🚀", "gen_ai.completion", "done" },
        { "input.value", """{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}""", "output.value", """{"choices":[{"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}]}""" },
        { "ai.prompt.messages", """[{"role":"user","content":[{"type":"text","text":"Hi"}]}]""", "ai.response.text", "Hello" },
        { "langfuse.observation.input", "question", "langfuse.observation.output", "answer" },
        { "all_messages_events", """[{"event.name":"gen_ai.user.message","content":"Hi"}]""", "final_result", "Rome" },
    };

    /// <summary>
    /// Content from one string attribute in another form than semconv 1.37 messages is stored once too: its
    /// text verbatim in the column with the attribute as its form, normalized on read to what the mapper makes of it.
    /// </summary>
    [Theory]
    [MemberData(nameof(Forms))]
    public void Decode_ContentInAnotherForm_IsStoredOnceWithItsForm_AndNormalizesToTheMappedText(string inputKey, string input, string outputKey, string output)
    {
        var span = Span(Id(16), "chat", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), null,
            Str("gen_ai.system", "openai"), Str(inputKey, input), Int("gen_ai.usage.input_tokens", 5), Str(outputKey, output), Str("after", "the content"));
        var original = span.ToByteArray();
        var mapped = GenAiMapper.Map(span.Attributes);

        var row = new SpanRecordDecoder(new DimensionCache(), GenAiMapper.DefaultMaxTextBytes).Decode(Consumed(Message(span))).Record!.Spans.Single();

        Assert.Equal((input, inputKey, output, outputKey), (row.GenAi.InputText, row.InputForm, row.GenAi.OutputText, row.OutputForm));
        Assert.NotNull(row.InputAt);
        Assert.NotNull(row.OutputAt);
        Assert.Equal(original.Length, row.SpanSize);
        var stored = OpenTelemetry.Proto.Trace.V1.Span.Parser.ParseFrom(row.Otlp.Span);
        Assert.Equal(new KeyValue { Key = inputKey }, stored.Attributes[1]);
        Assert.Equal(new KeyValue { Key = outputKey }, stored.Attributes[3]);
        Assert.Equal(original, Restore(row));
        Assert.Equal(mapped.InputText, GenAiContent.Normalize(GenAiField.InputText, row.InputForm, row.GenAi.InputText!));
        Assert.Equal(mapped.OutputText, GenAiContent.Normalize(GenAiField.OutputText, row.OutputForm, row.GenAi.OutputText!));
        Assert.StartsWith("[{\"role\":", mapped.InputText, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_SemconvMessagesAsStrings_AreStoredOnceWithNoForm()
    {
        var span = Span(Id(16), "chat", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), null,
            Str("gen_ai.input.messages", """[{"role":"user","parts":[{"type":"text","content":"Hi"}]}]"""), Str("gen_ai.output.messages", "[]"));

        var row = new SpanRecordDecoder(new DimensionCache(), GenAiMapper.DefaultMaxTextBytes).Decode(Consumed(Message(span))).Record!.Spans.Single();

        Assert.Equal((true, null, true, null), (row.InputAt is not null, row.InputForm, row.OutputAt is not null, row.OutputForm));
        Assert.Equal(span.ToByteArray(), Restore(row));
    }

    /// <summary>pydantic-ai's events fill both input and output from one attribute: cut out once, for the input; the output normalized.</summary>
    [Fact]
    public void Decode_OneAttributeForInputAndOutput_IsCutOnceForTheInput()
    {
        const string events = """[{"event.name":"gen_ai.user.message","content":"Hi"},{"event.name":"gen_ai.choice","message":{"role":"assistant","content":"Hello"}}]""";
        var span = Span(Id(16), "chat", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), null, Str("gen_ai.system", "openai"), Str("events", events));
        var mapped = GenAiMapper.Map(span.Attributes);

        var row = new SpanRecordDecoder(new DimensionCache(), GenAiMapper.DefaultMaxTextBytes).Decode(Consumed(Message(span))).Record!.Spans.Single();

        Assert.Equal((events, "events", true), (row.GenAi.InputText, row.InputForm, row.InputAt is not null));
        Assert.Equal((mapped.OutputText, null, null), (row.GenAi.OutputText, row.OutputForm, row.OutputAt));
        Assert.Equal(mapped.InputText, GenAiContent.Normalize(GenAiField.InputText, row.InputForm, row.GenAi.InputText!));
        Assert.Equal(span.ToByteArray(), Restore(row));
    }

    public static TheoryData<string> ManyAttributes() => ["gen_ai.prompt.", "llm.input_messages."];

    /// <summary>Content from several attributes has no one value to keep: the column holds the normalized form, the span stays whole.</summary>
    [Theory]
    [MemberData(nameof(ManyAttributes))]
    public void Decode_ContentFromSeveralAttributes_KeepsTheNormalizedFormWithNoForm(string prefix)
    {
        var message = prefix == "gen_ai.prompt." ? "" : "message.";
        var span = Span(Id(16), "chat", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), null, Str("gen_ai.system", "openai"),
            Str($"{prefix}0.{message}role", "system"), Str($"{prefix}0.{message}content", "Be brief"),
            Str($"{prefix}1.{message}role", "user"), Str($"{prefix}1.{message}content", "Hi"));
        var original = span.ToByteArray();

        var row = new SpanRecordDecoder(new DimensionCache(), GenAiMapper.DefaultMaxTextBytes).Decode(Consumed(Message(span))).Record!.Spans.Single();

        Assert.Equal("""[{"role":"system","parts":[{"type":"text","content":"Be brief"}]},{"role":"user","parts":[{"type":"text","content":"Hi"}]}]""", row.GenAi.InputText);
        Assert.Equal((null, null, null), (row.InputForm, row.InputAt, row.SpanSize));
        Assert.Equal(original, row.Otlp.ToArray());
    }

    public static TheoryData<string> KeptWhole() => ["structured", "nul", "value-first", "unknown-field", "value-twice", "prompt-nul"];

    /// <summary>Content the row cannot give back exactly stays in the span's bytes (the column then holds a copy).</summary>
    [Theory]
    [MemberData(nameof(KeptWhole))]
    public void Decode_ContentItCannotRebuildExactly_KeepsTheSpanWhole(string content)
    {
        var trace = Id(16);
        var span = Span(trace, "chat", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), null, Str("gen_ai.system", "openai"));
        var key = Encoding.UTF8.GetBytes("gen_ai.input.messages");
        var text = Encoding.UTF8.GetBytes("the prompt");
        byte[] keyValue = content switch
        {
            "structured" => new KeyValue
            {
                Key = "gen_ai.input.messages",
                Value = new AnyValue { ArrayValue = new ArrayValue { Values = { new AnyValue { StringValue = "the prompt" } } } },
            }.ToByteArray(),
            "nul" => new KeyValue { Key = "gen_ai.input.messages", Value = new AnyValue { StringValue = "the\0prompt" } }.ToByteArray(),
            "prompt-nul" => new KeyValue { Key = "gen_ai.prompt", Value = new AnyValue { StringValue = "the\0prompt" } }.ToByteArray(),
            "value-first" => [.. Field(2, Field(1, text)), .. Field(1, key)],
            "unknown-field" => [.. Field(1, key), .. Field(2, Field(1, text)), 0x18, 0x01],
            _ => [.. Field(1, key), .. Field(2, Field(1, "an earlier value"u8.ToArray())), .. Field(2, Field(1, text))],
        };
        byte[] original = [.. span.ToByteArray(), .. Field(9, keyValue)];

        var row = new SpanRecordDecoder(new DimensionCache(), GenAiMapper.DefaultMaxTextBytes).Decode(Consumed(RawMessage(trace, original))).Record!.Spans.Single();

        Assert.NotNull(row.GenAi.InputText);
        Assert.Equal((null, null, null, null), (row.SpanSize, row.InputAt, row.OutputAt, row.InputForm));
        Assert.Equal(original, row.Otlp.ToArray());
    }

    [Fact]
    public void Decode_SameResourceAgain_IsNotStoredTwiceOnceCommitted()
    {
        var cache = new DimensionCache();
        var decoder = new SpanRecordDecoder(cache, 1024);
        var first = decoder.Decode(Consumed(Message(Span(Id(16), "a", DateTimeOffset.UtcNow, TimeSpan.Zero)))).Record!;
        cache.MarkStored(Project, first.Resources.Single().ResourceId, isScope: false);
        cache.MarkStored(Project, first.Scopes.Single().ScopeId, isScope: true);

        var second = decoder.Decode(Consumed(Message(Span(Id(16), "b", DateTimeOffset.UtcNow, TimeSpan.Zero)))).Record!;

        Assert.Empty(second.Resources);
        Assert.Empty(second.Scopes);
        Assert.Equal(first.Spans[0].ResourceId, second.Spans[0].ResourceId);
        Assert.Equal("svc", second.Spans[0].ServiceName);
    }

    [Fact]
    public void ContentId_DependsOnTheBytesAndTheSchemaUrl()
    {
        var bytes = new Resource { Attributes = { Str("service.name", "a") } }.ToByteArray();

        Assert.Equal(SpanRecordDecoder.ContentId(bytes, "u"u8), SpanRecordDecoder.ContentId(bytes, "u"u8));
        Assert.NotEqual(SpanRecordDecoder.ContentId(bytes, "u"u8), SpanRecordDecoder.ContentId(bytes, "v"u8));
        Assert.NotEqual(SpanRecordDecoder.ContentId(bytes, ""u8), SpanRecordDecoder.ContentId([.. bytes, 0x75], ""u8));
    }

    [Fact]
    public void Decode_RootSpanWithAllZeroParent_IsARoot()
    {
        var trace = Id(16);
        var span = Span(trace, "root", DateTimeOffset.UtcNow, TimeSpan.Zero, ByteString.CopyFrom(new byte[8]));

        Assert.True(_decoder.Decode(Consumed(Message(span))).Record!.Spans.Single().IsRoot);
    }

    public static TheoryData<string, string> Violations() => new()
    {
        { "garbage", "the value is not a trulayer.pipeline.v1.SpanBatch" },
        { "empty", "the record has no value" },
        { "project", "project_id 'not-a-uuid' is not a UUID" },
        { "trace", "trace_id has 15 bytes" },
        { "zero-trace", "trace_id has 16 bytes (00000000000000000000000000000000)" },
        { "key", "does not match the record's project and trace" },
        { "span-trace", "span 0 belongs to trace" },
        { "span-id", "span 0 has a span_id of 4 bytes" },
        { "parent", "span 0 has a parent_span_id of 3 bytes" },
        { "year-2262", "span 0 has a start or end time past 2262-04-11" },
        { "span-bytes", "span 0 is not an OTLP Span" },
    };

    [Theory]
    [MemberData(nameof(Violations))]
    public void Decode_RecordBreakingTheContract_IsADeadLetterWithTheReason(string violation, string reason)
    {
        var trace = Id(16);
        var span = Span(trace, "s", DateTimeOffset.UtcNow, TimeSpan.Zero);
        var batch = Batch(trace, span);
        Message<byte[]?, byte[]?> message;
        switch (violation)
        {
            case "garbage":
                message = new Message<byte[]?, byte[]?> { Key = Key(trace), Value = [0x0A, 0xFF] };
                break;
            case "empty":
                message = new Message<byte[]?, byte[]?> { Key = Key(trace), Value = null };
                break;
            case "project":
                batch.ProjectId = "not-a-uuid";
                message = SpanRecords.ToMessage(batch);
                break;
            case "trace":
                batch.TraceId = ByteString.CopyFrom(new byte[15]);
                message = SpanRecords.ToMessage(batch);
                break;
            case "zero-trace":
                batch.TraceId = ByteString.CopyFrom(new byte[16]);
                message = SpanRecords.ToMessage(batch);
                break;
            case "key":
                message = SpanRecords.ToMessage(batch);
                message.Key = Key(Id(16));
                break;
            case "span-trace":
                span.TraceId = Id(16);
                message = SpanRecords.ToMessage(batch);
                break;
            case "span-id":
                span.SpanId = Id(4);
                message = SpanRecords.ToMessage(batch);
                break;
            case "parent":
                span.ParentSpanId = Id(3);
                message = SpanRecords.ToMessage(batch);
                break;
            case "year-2262":
                span.StartTimeUnixNano = (ulong)long.MaxValue + 1;
                message = SpanRecords.ToMessage(batch);
                break;
            default:
                // A span field whose bytes are not a Span: field 1 (trace_id) declared longer than the span.
                var value = batch.ToByteArray();
                var spanBytes = span.ToByteArray();
                var at = value.AsSpan().IndexOf(spanBytes);
                value[at + 1] = 0x7F;
                message = new Message<byte[]?, byte[]?> { Key = Key(trace), Value = value };
                break;
        }

        var (record, letter) = _decoder.Decode(Consumed(message));

        Assert.Null(record);
        Assert.Equal(DeadLetterStage.Decode, letter!.Stage);
        Assert.Contains(reason, letter.Reason, StringComparison.Ordinal);
    }

    private static SpanBatch Batch(ByteString trace, params OpenTelemetry.Proto.Trace.V1.Span[] spans) => new()
    {
        ProjectId = Project.ToString(),
        TraceId = trace,
        ResourceSpans =
        {
            new ResourceSpans
            {
                Resource = new Resource { Attributes = { Str("service.name", "svc") } },
                ScopeSpans = { new ScopeSpans { Scope = new InstrumentationScope { Name = "lib" }, Spans = { spans } } },
            },
        },
    };

    private static Message<byte[]?, byte[]?> Message(OpenTelemetry.Proto.Trace.V1.Span span) => SpanRecords.ToMessage(Batch(span.TraceId, span));

    /// <summary>A record of one span given as its bytes, which reach the decoder as they are.</summary>
    private static Message<byte[]?, byte[]?> RawMessage(ByteString trace, byte[] span) => new()
    {
        Key = Key(trace),
        Value = [.. Field(1, Encoding.UTF8.GetBytes(Project.ToString())), .. Field(2, trace.ToByteArray()), .. Field(4, Field(2, Field(2, span)))],
    };

    private static byte[] Field(int number, byte[] content)
    {
        var field = new byte[ProtoWire.LengthDelimitedFieldSize(number, content.Length)];
        ProtoWire.WriteLengthDelimited(field, number, content);
        return field;
    }

    /// <summary>The span as the export gives it back from the row.</summary>
    internal static byte[] Restore(Trulayer.Processor.Storage.SpanRow row)
    {
        var input = Encoding.UTF8.GetBytes(row.GenAi.InputText ?? "");
        var output = Encoding.UTF8.GetBytes(row.GenAi.OutputText ?? "");
        var span = new byte[ContentSplice.RestoredSize(row.Otlp.Span, row.InputAt, input.Length, row.OutputAt, output.Length)];
        Assert.Equal(span.Length, ContentSplice.Restore(row.Otlp.Span, row.InputAt, input, row.OutputAt, output, span));
        return span;
    }

    private static byte[] Key(ByteString trace) => Encoding.UTF8.GetBytes($"{Project}:{Convert.ToHexStringLower(trace.Span)}");

    private static ConsumeResult<byte[]?, byte[]?> Consumed(Message<byte[]?, byte[]?> message) => new()
    {
        Message = message,
        TopicPartitionOffset = new TopicPartitionOffset("otlp.spans.v1", 0, 1),
    };
}
