using Google.Protobuf;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.GenAi;
using Trulayer.Processor.Pipeline;
using Trulayer.Workload;

namespace Trulayer.Processor.Tests;

/// <summary>Reading spans off the wire gives what parsing them with Google.Protobuf and mapping the objects gives.</summary>
public sealed class SpanWireTests
{
    public static TheoryData<string> Cases() => ["genai", "lean", "every-type", "odd-encodings"];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Read_GivesTheHashesAndMappingOfTheParsedSpan(string name)
    {
        foreach (var bytes in Spans(name))
        {
            var parsed = Span.Parser.ParseFrom(bytes);
            var expected = parsed.Attributes.Where(a => !GenAiPrecedence.IsContent(a.Key)).Select(a => AttributeHash.Of(a.Key, a.Value)).OfType<int>().ToList();

            var attributes = new SpanAttributes();
            var fields = SpanWire.Read(bytes, attributes);

            Assert.Equal(expected, attributes.Hashes);
            // The same fields, and the same content source, by its place in each list.
            var fromParsed = GenAiMapper.Map(parsed.Attributes);
            var fromMapped = GenAiMapper.Map(attributes.Mapped);
            Assert.Equal(fromParsed with { InputSource = null, OutputSource = null }, fromMapped with { InputSource = null, OutputSource = null });
            Assert.Equal(Source(parsed.Attributes, fromParsed.InputSource), Source(attributes.Mapped, fromMapped.InputSource));
            Assert.Equal(Source(parsed.Attributes, fromParsed.OutputSource), Source(attributes.Mapped, fromMapped.OutputSource));
            Assert.Equal(SpanTypeRules.Infer(parsed.Attributes), SpanTypeRules.Infer(attributes.Mapped));
            Assert.Equal(attributes.Mapped.Count, attributes.MappedFields.Count);
            for (var i = 0; i < attributes.Mapped.Count; i++)
            {
                // Each mapped attribute's field, alone, is a span with just that attribute.
                var (start, end) = attributes.MappedFields[i];
                Assert.Equal(attributes.Mapped[i], Span.Parser.ParseFrom(bytes[start..end]).Attributes.Single());
            }

            Assert.Equal(parsed.Name.Replace('\0', '\uFFFD'), SpanWire.String(bytes.AsSpan(fields.Name.Offset, fields.Name.Length)));
            Assert.Equal(parsed.SpanId.ToByteArray(), bytes.AsSpan(fields.SpanId.Offset, fields.SpanId.Length).ToArray());
            Assert.Equal((parsed.StartTimeUnixNano, parsed.EndTimeUnixNano, (int)parsed.Kind), (fields.StartTimeUnixNano, fields.EndTimeUnixNano, fields.Kind));
            Assert.Equal((int)(parsed.Status?.Code ?? 0), fields.StatusCode);
            Assert.Equal(parsed.Status?.Message ?? "", SpanWire.String(bytes.AsSpan(fields.StatusMessage.Offset, fields.StatusMessage.Length)));
        }
    }

    [Fact]
    public void Read_HashesEachValueAsItsText()
    {
        var span = TestSpans.Span(TestSpans.Id(16), "values", DateTimeOffset.UtcNow, TimeSpan.Zero, null,
            TestSpans.Str("s", "plain"), TestSpans.Int("i", -42), TestSpans.Dbl("d", 0.2), TestSpans.Dbl("big", 1e20),
            new KeyValue { Key = "b", Value = new AnyValue { BoolValue = false } },
            new KeyValue { Key = "bytes", Value = new AnyValue { BytesValue = ByteString.CopyFrom(0, 1, 255) } },
            new KeyValue { Key = "array", Value = new AnyValue { ArrayValue = new ArrayValue { Values = { new AnyValue { IntValue = 1 }, new AnyValue { StringValue = "two" } } } } },
            new KeyValue { Key = "no value" },
            TestSpans.Str("gen_ai.prompt", "content is searched as text, not hashed"));
        var attributes = new SpanAttributes();

        SpanWire.Read(span.ToByteArray(), attributes);

        string[] texts = ["s=plain", "i=-42", "d=0.2", "big=1E+20", "b=false", "bytes=AAH/", "array=[1,\"two\"]"];
        Assert.Equal(texts.Select(AttributeHash.HashText), attributes.Hashes);
    }

    [Fact]
    public void IsMapped_CoversEveryAttributeTheTableAndTheRulesRead()
    {
        Assert.All(GenAiPrecedence.Table, row => Assert.True(MappedAttributes.IsMapped(row.Attribute), row.Attribute));
        Assert.All(["trulayer.span.type", "2signal.span.type", "gen_ai.operation.name", "gen_ai.tool.name", "llm.anything", "tool.name", "rpc.method", "db.system", "db.statement"],
            key => Assert.True(MappedAttributes.IsMapped(key), key));
        Assert.All(["http.route", "service.name", "db.name", "tool", "gen_ai", "llmx.y"], key => Assert.False(MappedAttributes.IsMapped(key), key));
    }

    private static IEnumerable<byte[]> Spans(string name)
    {
        switch (name)
        {
            case "genai":
                return StandardBatch.GenAi(spans: 60, traces: 2, seed: 3).ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).Select(s => s.ToByteArray());
            case "lean":
                return StandardBatch.Lean(spans: 60, traces: 2, seed: 3).ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).Select(s => s.ToByteArray());
            case "every-type":
                var span = TestSpans.Span(TestSpans.Id(16), "name\0with nul", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), TestSpans.Id(8),
                    TestSpans.Str("s", "ünïcödé \"quoted\" \u0000 nul"), TestSpans.Int("i", long.MinValue), TestSpans.Dbl("nan", double.NaN), TestSpans.Dbl("d", 1e-300),
                    new KeyValue { Key = "b", Value = new AnyValue { BoolValue = true } },
                    new KeyValue { Key = "bytes", Value = new AnyValue { BytesValue = ByteString.CopyFrom(1, 2, 3) } },
                    new KeyValue { Key = "array", Value = new AnyValue { ArrayValue = new ArrayValue { Values = { new AnyValue { IntValue = 1 }, new AnyValue(), new AnyValue { ArrayValue = new ArrayValue() } } } } },
                    new KeyValue { Key = "map", Value = new AnyValue { KvlistValue = new KeyValueList { Values = { new KeyValue { Key = "k\0" }, TestSpans.Str("x", "y") } } } },
                    new KeyValue { Key = "no value" },
                    TestSpans.Str("gen_ai.prompt", "left out of the JSON"), TestSpans.Str("gen_ai.system", "openai"), TestSpans.Str("tool.name", "search"),
                    TestSpans.Str("trulayer.span.type", "agent"));
                span.Status = new Status { Code = Status.Types.StatusCode.Error, Message = "boom" };
                return [span.ToByteArray()];
            default:
                return [OddEncodings()];
        }
    }

    /// <summary>Encodings Google.Protobuf accepts that a naive reader gets wrong: repeated and switching oneof fields, invalid UTF-8.</summary>
    private static byte[] OddEncodings()
    {
        var span = TestSpans.Span(TestSpans.Id(16), "odd", DateTimeOffset.UtcNow, TimeSpan.Zero);
        var bytes = new List<byte>(span.ToByteArray());

        void Attribute(params byte[] keyValue)
        {
            bytes.Add(0x4A); // field 9, length-delimited
            bytes.Add((byte)keyValue.Length);
            bytes.AddRange(keyValue);
        }

        // key "a", value: string "x" then int 5 (the oneof switches: 5 wins)
        Attribute(0x0A, 0x01, (byte)'a', 0x12, 0x05, 0x0A, 0x01, (byte)'x', 0x18, 0x05);
        // key "b", value occurs twice: string "x", then a second value with bool true (merged: bool wins)
        Attribute(0x0A, 0x01, (byte)'b', 0x12, 0x03, 0x0A, 0x01, (byte)'x', 0x12, 0x02, 0x10, 0x01);
        // key "c", an array that occurs twice: the elements merge (1, then 2)
        Attribute(0x0A, 0x01, (byte)'c', 0x12, 0x0C, 0x2A, 0x04, 0x0A, 0x02, 0x18, 0x01, 0x2A, 0x04, 0x0A, 0x02, 0x18, 0x02);
        // key with invalid UTF-8, value string with invalid UTF-8
        Attribute(0x0A, 0x02, 0xFF, (byte)'k', 0x12, 0x04, 0x0A, 0x02, 0xC3, 0x28);
        // key "e": a value with an unknown field only (null)
        Attribute(0x0A, 0x01, (byte)'e', 0x12, 0x02, 0x40, 0x01);
        // key "gen_ai.usage.input_tokens", value occurs twice: int 7 then int 9 (9 wins)
        var tokens = "gen_ai.usage.input_tokens"u8.ToArray();
        Attribute([0x0A, (byte)tokens.Length, .. tokens, 0x12, 0x02, 0x18, 0x07, 0x12, 0x02, 0x18, 0x09]);
        return [.. bytes];
    }

    private static (KeyValue? Attribute, string? Form) Source(IReadOnlyList<KeyValue> attributes, GenAiContentSource? source)
        => source is { } s ? (attributes[s.Index], s.Form) : (null, null);
}
