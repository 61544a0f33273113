using System.Text;
using System.Text.Json;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Json;
using Trulayer.Workload;

namespace Trulayer.Otlp.Tests;

/// <summary>The codec's own JSON tokenizer: strict RFC 8259, and its compact fast path changes nothing but speed.</summary>
public sealed class JsonTokenReaderTests
{
    private static string Wrap(string value) => """{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":""" + value + "}]}]}]}";

    [Theory]
    [InlineData("{\"resourceSpans\":[],}")]
    [InlineData("{\"resourceSpans\":[{},]}")]
    [InlineData("{\"x\":01}")]
    [InlineData("{\"x\":1.}")]
    [InlineData("{\"x\":-}")]
    [InlineData("{\"x\":.5}")]
    [InlineData("{\"x\":1e}")]
    [InlineData("{\"x\":\"tab\there\"}")]
    [InlineData("{\"x\":\"\\x41\"}")]
    [InlineData("{\"x\":\"\\u12\"}")]
    [InlineData("{'x':1}")]
    [InlineData("{\"x\":1 // comment\n}")]
    [InlineData("{\"x\":\"open}")]
    [InlineData("{\"x\" 1}")]
    [InlineData("{\"x\":1 \"y\":2}")]
    [InlineData("{\"x\":nul}")]
    [InlineData("{\"x\":tru}")]
    [InlineData("{\"x\":[1}")]
    [InlineData("{\"x\":1]")]
    [InlineData("{\"x\":1}}")]
    [InlineData("{\"x\":1} x")]
    [InlineData("{")]
    [InlineData("   ")]
    public void Transcode_MalformedJson_IsRefused(string json)
    {
        var error = Assert.Throws<OtlpJsonException>(() => OtlpJson.TranscodeTraces(Encoding.UTF8.GetBytes(json)).Dispose());

        Assert.StartsWith("invalid JSON:", error.Problem, StringComparison.Ordinal);
        Assert.Contains("at byte", error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Transcode_NestingBeyondTheLimit_IsRefused()
    {
        var json = "{\"x\":" + new string('[', 300) + new string(']', 300) + "}";

        var error = Assert.Throws<OtlpJsonException>(() => OtlpJson.TranscodeTraces(Encoding.UTF8.GetBytes(json)).Dispose());

        Assert.Contains("deeper than 256", error.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"a\\/b\"", "a/b")]
    [InlineData("\"\\b\\f\\n\\r\\t\\\"\\\\\"", "\b\f\n\r\t\"\\")]
    [InlineData("\"\\u0041\\u00e9\\u20AC\"", "Aé€")]
    [InlineData("\"\\ud83d\\ude00\"", "😀")]
    [InlineData("\"\\ud800x\"", "\uFFFDx")]
    [InlineData("\"plain 😀 text\"", "plain 😀 text")]
    public void Transcode_Escapes_AreDecoded(string value, string expected)
    {
        var request = OtlpJson.ParseExportTraceServiceRequest(Encoding.UTF8.GetBytes(Wrap(value)));

        Assert.Equal(expected, request.ResourceSpans[0].ScopeSpans[0].Spans[0].Name);
    }

    [Fact]
    public void Transcode_WhitespaceEverywhere_IsAccepted()
    {
        var json = " \r\n\t{ \"resourceSpans\" :\n[ { \"scopeSpans\" : [ { \"spans\" : [ { \"name\" : \"n\" , \"kind\" : 2 } ] } ] } ]\t}\r\n ";

        var span = OtlpJson.ParseExportTraceServiceRequest(Encoding.UTF8.GetBytes(json)).ResourceSpans[0].ScopeSpans[0].Spans[0];

        Assert.Equal("n", span.Name);
        Assert.Equal(Span.Types.SpanKind.Server, span.Kind);
    }

    [Fact]
    public void Transcode_CompactAndIndented_GiveTheSameBytes()
    {
        var request = StandardBatch.GenAi(spans: 60, traces: 2, seed: 17);
        var span = request.ResourceSpans[0].ScopeSpans[0].Spans[0];
        span.Attributes.Add(
        [
            new KeyValue { Key = "int.max", Value = new AnyValue { IntValue = long.MaxValue } },
            new KeyValue { Key = "int.min", Value = new AnyValue { IntValue = long.MinValue } },
            new KeyValue { Key = "int.zero", Value = new AnyValue { IntValue = 0 } },
            new KeyValue { Key = "double.exp", Value = new AnyValue { DoubleValue = 1.5e300 } },
            new KeyValue { Key = "double.negzero", Value = new AnyValue { DoubleValue = -0.0 } },
            new KeyValue { Key = "double.nan", Value = new AnyValue { DoubleValue = double.NaN } },
            new KeyValue { Key = "bool.true", Value = new AnyValue { BoolValue = true } },
            new KeyValue { Key = "bool.false", Value = new AnyValue { BoolValue = false } },
            new KeyValue { Key = "", Value = new AnyValue { StringValue = "empty key" } },
            new KeyValue { Key = "empty.value", Value = new AnyValue { StringValue = "" } },
            new KeyValue { Key = "esc\"aped", Value = new AnyValue { StringValue = "line\nbreak" } },
            new KeyValue { Key = "bytes", Value = new AnyValue { BytesValue = ByteString.CopyFrom([1, 2, 3]) } },
            new KeyValue { Key = "unset", Value = new AnyValue() },
            new KeyValue { Key = "map", Value = new AnyValue { KvlistValue = new KeyValueList { Values = { new KeyValue { Key = "inner", Value = new AnyValue { IntValue = 7 } } } } } },
        ]);
        var compact = OtlpJson.SerializeExportTraceServiceRequest(request);
        var indented = Indent(compact);
        Assert.True(indented.Length > compact.Length * 1.5);

        using var fromCompact = OtlpJson.TranscodeTraces(compact);
        using var fromIndented = OtlpJson.TranscodeTraces(indented);

        Assert.Equal(fromIndented.Bytes.ToArray(), fromCompact.Bytes.ToArray());
        Assert.Equal(request.ToByteArray(), ExportTraceServiceRequest.Parser.ParseFrom(fromCompact.Bytes.Span).ToByteArray());
    }

    [Theory]
    [InlineData("{\"key\":\"n\",\"value\":{\"intValue\":42}}", 42L)]
    [InlineData("{\"key\":\"n\",\"value\":{\"intValue\":-42}}", -42L)]
    [InlineData("{\"key\":\"n\",\"value\":{\"intValue\":\"-9223372036854775808\"}}", long.MinValue)]
    [InlineData("{\"value\":{\"intValue\":5},\"key\":\"n\"}", 5L)]
    [InlineData("{\"key\":\"n\",\"value\":{\"int_value\":6}}", 6L)]
    public void Transcode_CompactAttributeVariants_ReadAsTheGeneralPathDoes(string attribute, long expected)
    {
        var json = """{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[""" + attribute + "," + attribute + "]}]}]}]}";

        var attributes = OtlpJson.ParseExportTraceServiceRequest(Encoding.UTF8.GetBytes(json)).ResourceSpans[0].ScopeSpans[0].Spans[0].Attributes;

        Assert.Equal(2, attributes.Count);
        Assert.All(attributes, a => Assert.Equal("n", a.Key));
        Assert.All(attributes, a => Assert.Equal(expected, a.Value.IntValue));
    }

    [Theory]
    [InlineData("{\"key\":\"n\",\"value\":{\"intValue\":01}}")]
    [InlineData("{\"key\":\"n\",\"value\":{\"intValue\":1.5}}")]
    [InlineData("{\"key\":\"n\",\"value\":{\"intValue\":\"12\"x}}")]
    [InlineData("{\"key\":\"n\",\"value\":{\"boolValue\":truex}}")]
    [InlineData("{\"key\":\"n\",\"value\":{\"stringValue\":\"a\tb\"}}")]
    public void Transcode_MalformedCompactAttribute_IsRefusedByTheGeneralPath(string attribute)
    {
        var json = """{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[""" + attribute + "]}]}]}]}";

        Assert.Throws<OtlpJsonException>(() => OtlpJson.TranscodeTraces(Encoding.UTF8.GetBytes(json)).Dispose());
    }

    private static byte[] Indent(byte[] json)
    {
        using var document = JsonDocument.Parse(json);
        var output = new MemoryStream();
        using (var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true }))
        {
            document.WriteTo(writer);
        }

        return output.ToArray();
    }
}
