using System.Text;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Json;

namespace Trulayer.Otlp.Tests;

public sealed class OtlpJsonReaderTests
{
    private static Span OnlySpan(string json)
        => OtlpJson.ParseExportTraceServiceRequest(Encoding.UTF8.GetBytes(json)).ResourceSpans.Single().ScopeSpans.Single().Spans.Single();

    private static string SpanJson(string spanBody, string keys = "camel")
        => keys == "camel"
            ? """{"resourceSpans":[{"scopeSpans":[{"spans":[{""" + spanBody + "}]}]}]}"
            : """{"resource_spans":[{"scope_spans":[{"spans":[{""" + spanBody + "}]}]}]}";

    [Fact]
    public void Parse_TwoSignalExample_ReadsEveryField()
    {
        var request = OtlpJson.ParseExportTraceServiceRequest(Encoding.UTF8.GetBytes(SeedPayloads.TwoSignalExample));

        var resourceSpans = request.ResourceSpans.Single();
        Assert.Equal("my-agent", resourceSpans.Resource.Attributes.Single().Value.StringValue);
        var scopeSpans = resourceSpans.ScopeSpans.Single();
        Assert.Equal("openai-instrumentation", scopeSpans.Scope.Name);
        Assert.Equal("1.0.0", scopeSpans.Scope.Version);
        var span = scopeSpans.Spans.Single();
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", Convert.ToHexStringLower(span.TraceId.Span));
        Assert.Equal("b7ad6b7169203331", Convert.ToHexStringLower(span.SpanId.Span));
        Assert.True(span.ParentSpanId.IsEmpty);
        Assert.Equal("ChatCompletion", span.Name);
        Assert.Equal(Span.Types.SpanKind.Client, span.Kind);
        Assert.Equal(1700000000000000000UL, span.StartTimeUnixNano);
        Assert.Equal(1700000002000000000UL, span.EndTimeUnixNano);
        Assert.Equal(["gen_ai.system", "gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"], span.Attributes.Select(a => a.Key));
        Assert.Equal(150, span.Attributes[2].Value.IntValue);
        Assert.Equal(Status.Types.StatusCode.Ok, span.Status.Code);
    }

    [Fact]
    public void Parse_HexIds_AreCaseInsensitive()
    {
        var upper = OnlySpan(SpanJson("""
            "traceId":"0AF7651916CD43DD8448EB211C80319C","spanId":"B7AD6B7169203331","parentSpanId":"00F067AA0BA902B7"
            """));
        var lower = OnlySpan(SpanJson("""
            "traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","parentSpanId":"00f067aa0ba902b7"
            """));

        Assert.Equal(lower, upper);
        Assert.Equal(16, upper.TraceId.Length);
        Assert.Equal(0x00, upper.ParentSpanId[0]);
        Assert.Equal(0xF0, upper.ParentSpanId[1]);
    }

    [Theory]
    [InlineData("\"1700000000000000001\"", "\"-42\"")]
    [InlineData("1700000000000000001", "-42")]
    public void Parse_Int64_AsStringOrNumber(string time, string integer)
    {
        var span = OnlySpan(SpanJson(
            $"\"startTimeUnixNano\":{time},\"endTimeUnixNano\":{time}," +
            "\"attributes\":[{\"key\":\"n\",\"value\":{\"intValue\":" + integer + "}}],\"droppedAttributesCount\":\"3\""));

        Assert.Equal(1700000000000000001UL, span.StartTimeUnixNano);
        Assert.Equal(-42, span.Attributes.Single().Value.IntValue);
        Assert.Equal(3u, span.DroppedAttributesCount);
    }

    [Fact]
    public void Parse_SnakeCaseKeys_ReadLikeCamelCase()
    {
        var snake = OnlySpan(SpanJson("""
            "trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","parent_span_id":"00f067aa0ba902b7",
            "start_time_unix_nano":"5","end_time_unix_nano":"6","dropped_attributes_count":1,"dropped_events_count":2,"dropped_links_count":3,
            "trace_state":"a=b","attributes":[{"key":"k","value":{"string_value":"v"}},{"key":"m","value":{"kvlist_value":{"values":[{"key":"x","value":{"bool_value":true}}]}}}],
            "events":[{"time_unix_nano":"7","name":"e"}]
            """, keys: "snake"));
        var camel = OnlySpan(SpanJson("""
            "traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","parentSpanId":"00f067aa0ba902b7",
            "startTimeUnixNano":"5","endTimeUnixNano":"6","droppedAttributesCount":1,"droppedEventsCount":2,"droppedLinksCount":3,
            "traceState":"a=b","attributes":[{"key":"k","value":{"stringValue":"v"}},{"key":"m","value":{"kvlistValue":{"values":[{"key":"x","value":{"boolValue":true}}]}}}],
            "events":[{"timeUnixNano":"7","name":"e"}]
            """));

        Assert.Equal(camel, snake);
        Assert.Equal(7UL, snake.Events.Single().TimeUnixNano);
        Assert.True(snake.Attributes[1].Value.KvlistValue.Values.Single().Value.BoolValue);
    }

    [Fact]
    public void Parse_UnknownFieldsAndNulls_AreIgnored()
    {
        var json = """
            {"extra":{"deep":[1,{"x":null}]},"resourceSpans":[{"futureField":[{"a":1}],"resource":null,
             "scopeSpans":[{"scope":{"name":"s","unknown":true},"spans":[{"name":"n","unknownObject":{"k":[1,2,3]},
             "status":null,"attributes":[{"key":"k","value":{"stringValue":"v","mystery":"x"}}]}]}]}],"trailer":"t"}
            """;

        var request = OtlpJson.ParseExportTraceServiceRequest(Encoding.UTF8.GetBytes(json));

        var scopeSpans = request.ResourceSpans.Single().ScopeSpans.Single();
        Assert.Null(request.ResourceSpans[0].Resource);
        Assert.Equal("s", scopeSpans.Scope.Name);
        Assert.Equal("n", scopeSpans.Spans.Single().Name);
        Assert.Null(scopeSpans.Spans[0].Status);
        Assert.Equal("v", scopeSpans.Spans[0].Attributes.Single().Value.StringValue);
    }

    [Fact]
    public void Parse_EveryAnyValueKind_IsRead()
    {
        var span = OnlySpan(SpanJson("""
            "attributes":[
              {"key":"s","value":{"stringValue":"text \"quoted\"\n\u00e9\ud83d\ude00"}},
              {"key":"empty","value":{"stringValue":""}},
              {"key":"b","value":{"boolValue":false}},
              {"key":"i","value":{"intValue":"0"}},
              {"key":"d","value":{"doubleValue":2.5}},
              {"key":"nan","value":{"doubleValue":"NaN"}},
              {"key":"inf","value":{"doubleValue":"-Infinity"}},
              {"key":"bytes","value":{"bytesValue":"AQID/w=="}},
              {"key":"urlbytes","value":{"bytesValue":"AQID_w"}},
              {"key":"arr","value":{"arrayValue":{"values":[{"intValue":1},{"arrayValue":{"values":[{"stringValue":"nested"}]}}]}}},
              {"key":"map","value":{"kvlistValue":{"values":[{"key":"a","value":{"doubleValue":1}}]}}},
              {"key":"unset","value":{}},
              {"key":"novalue"}
            ]
            """));

        var values = span.Attributes.ToDictionary(a => a.Key, a => a.Value);
        Assert.Equal("text \"quoted\"\né😀", values["s"].StringValue);
        Assert.Equal(AnyValue.ValueOneofCase.StringValue, values["empty"].ValueCase);
        Assert.Equal(AnyValue.ValueOneofCase.BoolValue, values["b"].ValueCase);
        Assert.False(values["b"].BoolValue);
        Assert.Equal(AnyValue.ValueOneofCase.IntValue, values["i"].ValueCase);
        Assert.Equal(2.5, values["d"].DoubleValue);
        Assert.True(double.IsNaN(values["nan"].DoubleValue));
        Assert.Equal(double.NegativeInfinity, values["inf"].DoubleValue);
        Assert.Equal(new byte[] { 1, 2, 3, 255 }, values["bytes"].BytesValue.ToByteArray());
        Assert.Equal(new byte[] { 1, 2, 3, 255 }, values["urlbytes"].BytesValue.ToByteArray());
        Assert.Equal(1, values["arr"].ArrayValue.Values[0].IntValue);
        Assert.Equal("nested", values["arr"].ArrayValue.Values[1].ArrayValue.Values.Single().StringValue);
        Assert.Equal(1.0, values["map"].KvlistValue.Values.Single().Value.DoubleValue);
        Assert.Equal(AnyValue.ValueOneofCase.None, values["unset"].ValueCase);
        Assert.Null(values["novalue"]);
    }

    [Fact]
    public void Parse_BareArrayValues_ReadAsTheirValuesObject()
    {
        var bare = OnlySpan(SpanJson("""
            "attributes":[{"key":"arr","value":{"arrayValue":[{"intValue":1},{"stringValue":""}]}},
                          {"key":"map","value":{"kvlistValue":[{"key":"a","value":{"arrayValue":[]}}]}}]
            """));
        var wrapped = OnlySpan(SpanJson("""
            "attributes":[{"key":"arr","value":{"arrayValue":{"values":[{"intValue":1},{"stringValue":""}]}}},
                          {"key":"map","value":{"kvlistValue":{"values":[{"key":"a","value":{"arrayValue":{}}}]}}}]
            """));

        Assert.Equal(wrapped, bare);
        Assert.Equal(AnyValue.ValueOneofCase.StringValue, bare.Attributes[0].Value.ArrayValue.Values[1].ValueCase);
        Assert.Equal(AnyValue.ValueOneofCase.ArrayValue, bare.Attributes[1].Value.KvlistValue.Values.Single().Value.ValueCase);
    }

    [Theory]
    [InlineData("{\"arrayValue\":[{\"intValue\":1},{\"intValue\":true}]}", "arrayValue[1].intValue")]
    [InlineData("{\"arrayValue\":{\"values\":[{\"intValue\":1},{\"intValue\":true}]}}", "arrayValue.values[1].intValue")]
    [InlineData("{\"kvlistValue\":[{\"key\":\"k\",\"value\":{\"doubleValue\":\"x\"}}]}", "kvlistValue[0].value.doubleValue")]
    public void Parse_InvalidNestedValue_PathFollowsTheJson(string value, string pathInValue)
    {
        var json = SpanJson("\"attributes\":[{\"key\":\"a\",\"value\":" + value + "}]");

        var error = Assert.Throws<OtlpJsonException>(() => OtlpJson.ParseExportTraceServiceRequest(Encoding.UTF8.GetBytes(json)));

        Assert.Equal("resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value." + pathInValue, error.Path);
    }

    [Fact]
    public void Parse_EntityRefs_KeepEveryKeyEvenEmpty()
    {
        var json = """
            {"resourceSpans":[{"resource":{"entityRefs":[{"schemaUrl":"s","type":"service","idKeys":["service.name",""],
             "descriptionKeys":[]},{"type":"host","id_keys":["host.id"]}]}}]}
            """;

        var refs = OtlpJson.ParseExportTraceServiceRequest(Encoding.UTF8.GetBytes(json)).ResourceSpans.Single().Resource.EntityRefs;

        Assert.Equal(2, refs.Count);
        Assert.Equal("s", refs[0].SchemaUrl);
        Assert.Equal(["service.name", ""], refs[0].IdKeys);
        Assert.Empty(refs[0].DescriptionKeys);
        Assert.Equal("host", refs[1].Type);
        Assert.Equal(["host.id"], refs[1].IdKeys);
    }

    [Fact]
    public void Parse_RepeatedStringNotAString_NamesTheElement()
    {
        var json = """{"resourceSpans":[{"resource":{"entityRefs":[{"idKeys":["a",7]}]}}]}""";

        var error = Assert.Throws<OtlpJsonException>(() => OtlpJson.ParseExportTraceServiceRequest(Encoding.UTF8.GetBytes(json)));

        Assert.Equal("resourceSpans[0].resource.entityRefs[0].idKeys[1]", error.Path);
        Assert.Equal("expected a string, got the number 7", error.Problem);
    }

    [Fact]
    public void Parse_EnumNames_AreAcceptedBesideNumbers()
    {
        var span = OnlySpan(SpanJson("""
            "kind":"SPAN_KIND_SERVER","status":{"code":"STATUS_CODE_ERROR","message":"boom"}
            """));

        Assert.Equal(Span.Types.SpanKind.Server, span.Kind);
        Assert.Equal(Status.Types.StatusCode.Error, span.Status.Code);
        Assert.Equal("boom", span.Status.Message);
    }

    [Fact]
    public void Parse_EscapedKeys_AreMatched()
    {
        var span = OnlySpan(SpanJson("""
            "na\u006de":"escaped key","\u0073panId":"b7ad6b7169203331"
            """));

        Assert.Equal("escaped key", span.Name);
        Assert.Equal(8, span.SpanId.Length);
    }

    [Theory]
    [InlineData("\"traceId\":\"xyz\"", "resourceSpans[0].scopeSpans[0].spans[0].traceId", "hex")]
    [InlineData("\"traceId\":\"abc\"", "resourceSpans[0].scopeSpans[0].spans[0].traceId", "even number of hex digits")]
    [InlineData("\"spanId\":12", "resourceSpans[0].scopeSpans[0].spans[0].spanId", "expected a hex string")]
    [InlineData("\"startTimeUnixNano\":\"soon\"", "resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano", "unsigned 64-bit integer")]
    [InlineData("\"startTimeUnixNano\":-5", "resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano", "unsigned 64-bit integer")]
    [InlineData("\"kind\":\"SIDEWAYS\"", "resourceSpans[0].scopeSpans[0].spans[0].kind", "SPAN_KIND_SERVER")]
    [InlineData("\"attributes\":[{\"key\":\"a\",\"value\":{\"intValue\":1}},{\"key\":\"b\",\"value\":{\"intValue\":\"1.5\"}}]",
        "resourceSpans[0].scopeSpans[0].spans[0].attributes[1].value.intValue", "64-bit integer")]
    [InlineData("\"attributes\":{\"key\":\"a\"}", "resourceSpans[0].scopeSpans[0].spans[0].attributes", "expected an array")]
    [InlineData("\"status\":{\"code\":true}", "resourceSpans[0].scopeSpans[0].spans[0].status.code", "enum")]
    [InlineData("\"name\":5", "resourceSpans[0].scopeSpans[0].spans[0].name", "expected a string")]
    public void Parse_InvalidValue_NamesItsPath(string spanBody, string path, string problem)
    {
        var error = Assert.Throws<OtlpJsonException>(() => OtlpJson.ParseExportTraceServiceRequest(Encoding.UTF8.GetBytes(SpanJson(spanBody))));

        Assert.Equal(path, error.Path);
        Assert.Contains(problem, error.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_CompactAttributesBetweenOtherShapes_ReadAsWithoutTheFastPath()
    {
        const string Compact = "{\"key\":\"c\",\"value\":{\"intValue\":1}}";
        var attributes = string.Join(",", Compact, Compact, "{\"value\":{\"stringValue\":\"v\"},\"key\":\"reordered\"}", Compact,
            "{\"key\":\"nested\",\"value\":{\"kvlistValue\":{\"values\":[" + Compact + "," + Compact + ",{\"key\":\"e\",\"value\":{\"stringValue\":\"\\n\"}}]}}}", Compact);
        var compact = SpanJson("\"attributes\":[" + attributes + "]");
        var spaced = SpanJson("\"attributes\": [ " + attributes.Replace(":", ": ", StringComparison.Ordinal) + " ]");

        var span = OnlySpan(compact);

        Assert.Equal(OnlySpan(spaced), span);
        Assert.Equal(["c", "c", "reordered", "c", "nested", "c"], span.Attributes.Select(a => a.Key));
        Assert.Equal(["c", "c", "e"], span.Attributes[4].Value.KvlistValue.Values.Select(a => a.Key));
        Assert.Equal("\n", span.Attributes[4].Value.KvlistValue.Values[2].Value.StringValue);
    }

    [Fact]
    public void Parse_CompactAttributesAtEveryNesting_ReadAsWithoutTheFastPath()
    {
        // Runs of compact attributes in arrays at many positions, some repeated (the reader remembers its
        // state per position) and some nested deeper than 64 containers (where it does not).
        const string Compact = "{\"key\":\"c\",\"value\":{\"boolValue\":true}}";
        const string Run = Compact + "," + Compact;
        var deep = "{\"kvlistValue\":[" + Run + "]}";
        for (var level = 0; level < 40; level++)
        {
            deep = "{\"arrayValue\":[" + deep + "," + (level % 2 == 0 ? "{\"kvlistValue\":{\"values\":[" + Run + "]}}" : "{\"intValue\":1}") + "]}";
        }

        var span = "{\"name\":\"s\",\"attributes\":[" + Run + ",{\"key\":\"bare\",\"value\":{\"kvlistValue\":[" + Run + "]}},"
            + "{\"key\":\"wrapped\",\"value\":{\"kvlistValue\":{\"values\":[" + Run + "]}}},"
            + "{\"key\":\"mixed\",\"value\":{\"arrayValue\":[{\"kvlistValue\":[" + Run + "]},{\"kvlistValue\":{\"values\":[" + Compact + "]}}]}},"
            + "{\"key\":\"deep\",\"value\":" + deep + "}," + Compact + "],"
            + "\"events\":[{\"name\":\"e\",\"attributes\":[" + Run + "]},{\"attributes\":[" + Compact + "]}]}";
        var compact = """{"resourceSpans":[{"resource":{"attributes":[""" + Run + """]},"scopeSpans":[{"spans":[""" + span + "," + span + "]}]}]}";
        var spaced = compact.Replace(",", " , ", StringComparison.Ordinal);

        var request = OtlpJson.ParseExportTraceServiceRequest(Encoding.UTF8.GetBytes(compact));

        Assert.Equal(OtlpJson.ParseExportTraceServiceRequest(Encoding.UTF8.GetBytes(spaced)), request);
        var spans = request.ResourceSpans[0].ScopeSpans[0].Spans;
        Assert.Equal(2, spans.Count);
        Assert.Equal(spans[0], spans[1]);
        Assert.Equal(["c", "c", "bare", "wrapped", "mixed", "deep", "c"], spans[0].Attributes.Select(a => a.Key));
        Assert.Equal(2, spans[0].Attributes[2].Value.KvlistValue.Values.Count);
        var value = spans[0].Attributes[5].Value;
        for (var level = 0; level < 40; level++)
        {
            Assert.Equal(2, value.ArrayValue.Values.Count);
            value = value.ArrayValue.Values[0];
        }

        Assert.True(value.KvlistValue.Values[1].Value.BoolValue);
    }

    [Fact]
    public void Parse_InvalidAttributeAfterCompactOnes_PathCountsThemAll()
    {
        const string Compact = "{\"key\":\"c\",\"value\":{\"stringValue\":\"v\"}}";
        var json = SpanJson("\"attributes\":[" + Compact + "," + Compact + "," + Compact + ",{\"key\":\"bad\",\"value\":{\"boolValue\":1}}]");

        var error = Assert.Throws<OtlpJsonException>(() => OtlpJson.ParseExportTraceServiceRequest(Encoding.UTF8.GetBytes(json)));

        Assert.Equal("resourceSpans[0].scopeSpans[0].spans[0].attributes[3].value.boolValue", error.Path);
    }

    [Fact]
    public void Parse_SecondSpanInvalid_PathCountsTheIndex()
    {
        var json = """{"resourceSpans":[{},{"scopeSpans":[{"spans":[{"name":"ok"},{"traceId":"zz"}]}]}]}""";

        var error = Assert.Throws<OtlpJsonException>(() => OtlpJson.ParseExportTraceServiceRequest(Encoding.UTF8.GetBytes(json)));

        Assert.Equal("resourceSpans[1].scopeSpans[0].spans[1].traceId", error.Path);
    }

    [Theory]
    [InlineData("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"x\",}]}]}]}", "invalid JSON")]
    [InlineData("{\"resourceSpans\":[", "invalid JSON")]
    [InlineData("[]", "expected an object")]
    [InlineData("", "invalid JSON")]
    [InlineData("{} {}", "invalid JSON")]
    [InlineData("{\"resourceSpans\":{}}", "expected an array")]
    public void Parse_MalformedDocument_SaysWhatIsWrong(string json, string problem)
    {
        var error = Assert.Throws<OtlpJsonException>(() => OtlpJson.ParseExportTraceServiceRequest(Encoding.UTF8.GetBytes(json)));

        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_LeadingByteOrderMark_IsSkipped()
    {
        var json = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Encoding.UTF8.GetBytes(SeedPayloads.TwoSignalExample)).ToArray();

        Assert.Equal("ChatCompletion", OtlpJson.ParseExportTraceServiceRequest(json).ResourceSpans[0].ScopeSpans[0].Spans[0].Name);
    }

    [Fact]
    public void Parse_EmptyObject_IsAnEmptyRequest()
    {
        Assert.Empty(OtlpJson.ParseExportTraceServiceRequest("{}"u8).ResourceSpans);
    }

    [Fact]
    public void TranscodeTraces_SpansEncodeAsGoogleProtobufDoes()
    {
        var original = Trulayer.Workload.StandardBatch.GenAi(spans: 300, traces: 3, seed: 7);
        var json = OtlpJson.SerializeExportTraceServiceRequest(original);

        using var payload = OtlpJson.TranscodeTraces(json);

        // Field order may differ where JSON puts keys in another order (schemaUrl before scopeSpans),
        // so compare the messages; each span's own encoding is byte for byte the generated one.
        var parsed = ExportTraceServiceRequest.Parser.ParseFrom(payload.Bytes.Span);
        Assert.Equal(original, parsed);
        Assert.True(payload.Bytes.Length < json.Length);
    }
}
