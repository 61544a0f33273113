using System.Buffers;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Json;
using Trulayer.Workload;

namespace Trulayer.Otlp.Tests;

public sealed class OtlpJsonWriterTests
{
    private static TracesData Data(ExportTraceServiceRequest request) => new() { ResourceSpans = { request.ResourceSpans } };

    [Fact]
    public void SerializeTracesData_RoundTripsTheGenAiBatch()
    {
        var data = Data(StandardBatch.GenAi(seed: 3));

        var parsed = OtlpJson.ParseTracesData(OtlpJson.SerializeTracesData(data));

        Assert.Equal(data, parsed);
    }

    [Fact]
    public void SerializeTracesData_EveryValueKindAndField_RoundTrips()
    {
        var span = new Span
        {
            TraceId = ByteString.CopyFrom(Enumerable.Range(1, 16).Select(i => (byte)i).ToArray()),
            SpanId = ByteString.CopyFrom([0xAB, 0, 0, 0, 0, 0, 0, 1]),
            ParentSpanId = ByteString.CopyFrom([9, 9, 9, 9, 9, 9, 9, 9]),
            TraceState = "vendor=x",
            Flags = 0x301,
            Name = "name with \"quotes\", <html> & ünïcödé 😀\n",
            Kind = Span.Types.SpanKind.Consumer,
            StartTimeUnixNano = ulong.MaxValue,
            EndTimeUnixNano = ulong.MaxValue,
            DroppedAttributesCount = 1,
            DroppedEventsCount = 2,
            DroppedLinksCount = 3,
            Status = new Status { Code = Status.Types.StatusCode.Error, Message = "failed" },
            Attributes =
            {
                new KeyValue { Key = "s", Value = new AnyValue { StringValue = "" } },
                new KeyValue { Key = "escaped, long", Value = new AnyValue { StringValue = string.Concat(Enumerable.Repeat("line \"q\"\n é 😀 <&> ", 400)) } },
                new KeyValue { Key = "b", Value = new AnyValue { BoolValue = false } },
                new KeyValue { Key = "i", Value = new AnyValue { IntValue = long.MinValue } },
                new KeyValue { Key = "d", Value = new AnyValue { DoubleValue = double.NaN } },
                new KeyValue { Key = "inf", Value = new AnyValue { DoubleValue = double.PositiveInfinity } },
                new KeyValue { Key = "tiny", Value = new AnyValue { DoubleValue = 5e-324 } },
                new KeyValue { Key = "bytes", Value = new AnyValue { BytesValue = ByteString.CopyFrom([0, 255, 128]) } },
                new KeyValue
                {
                    Key = "nested",
                    Value = new AnyValue
                    {
                        KvlistValue = new KeyValueList
                        {
                            Values =
                            {
                                new KeyValue { Key = "arr", Value = new AnyValue { ArrayValue = new ArrayValue { Values = { new AnyValue { IntValue = 1 }, new AnyValue() } } } },
                            },
                        },
                    },
                },
                new KeyValue { Key = "unset" },
            },
            Events = { new Span.Types.Event { TimeUnixNano = 5, Name = "e", DroppedAttributesCount = 4, Attributes = { new KeyValue { Key = "k", Value = new AnyValue { StringValue = "v" } } } } },
            Links = { new Span.Types.Link { TraceId = ByteString.CopyFrom(new byte[16]), SpanId = ByteString.CopyFrom(new byte[8]), TraceState = "t", Flags = 1, DroppedAttributesCount = 6 } },
        };
        var data = new TracesData
        {
            ResourceSpans =
            {
                new ResourceSpans
                {
                    Resource = new OpenTelemetry.Proto.Resource.V1.Resource
                    {
                        DroppedAttributesCount = 2,
                        Attributes = { new KeyValue { Key = "service.name", Value = new AnyValue { StringValue = "svc" } } },
                        EntityRefs = { new EntityRef { SchemaUrl = "u", Type = "service", IdKeys = { "service.name" }, DescriptionKeys = { "d" } } },
                    },
                    SchemaUrl = "https://opentelemetry.io/schemas/1.27.0",
                    ScopeSpans = { new ScopeSpans { Scope = new InstrumentationScope { Name = "scope", Version = "1" }, SchemaUrl = "s", Spans = { span } } },
                },
            },
        };

        var json = OtlpJson.SerializeTracesData(data);
        var parsed = OtlpJson.ParseTracesData(json);

        // NaN != NaN for protobuf equality too, so compare the encodings.
        Assert.Equal(data.ToByteArray(), parsed.ToByteArray());
    }

    [Fact]
    public void SerializeTracesData_UsesTheOtlpJsonConventions()
    {
        var span = new Span
        {
            TraceId = ByteString.CopyFrom(Convert.FromHexString("0AF7651916CD43DD8448EB211C80319C")),
            SpanId = ByteString.CopyFrom(Convert.FromHexString("B7AD6B7169203331")),
            Name = "n",
            Kind = Span.Types.SpanKind.Client,
            StartTimeUnixNano = 1700000000000000000,
            EndTimeUnixNano = 1700000002000000000,
            Attributes = { new KeyValue { Key = "n", Value = new AnyValue { IntValue = 150 } } },
        };
        var data = new TracesData { ResourceSpans = { new ResourceSpans { ScopeSpans = { new ScopeSpans { Spans = { span } } } } } };

        using var json = JsonDocument.Parse(OtlpJson.SerializeTracesData(data));

        var written = json.RootElement.GetProperty("resourceSpans")[0].GetProperty("scopeSpans")[0].GetProperty("spans")[0];
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", written.GetProperty("traceId").GetString());
        Assert.Equal("b7ad6b7169203331", written.GetProperty("spanId").GetString());
        Assert.Equal(3, written.GetProperty("kind").GetInt32());
        Assert.Equal("1700000000000000000", written.GetProperty("startTimeUnixNano").GetString());
        Assert.Equal("150", written.GetProperty("attributes")[0].GetProperty("value").GetProperty("intValue").GetString());
        Assert.False(written.TryGetProperty("parentSpanId", out _));
        Assert.False(written.TryGetProperty("status", out _));
    }

    [Fact]
    public void StreamingWriter_PageByPage_EqualsTheWholeDocument()
    {
        var data = Data(StandardBatch.Lean(spans: 250, traces: 5, seed: 11));
        var stream = new MemoryStream();
        var flushes = 0;
        using (var json = new Utf8JsonWriter(stream))
        {
            var otlp = new OtlpJsonWriter(json);
            otlp.WriteStartTracesData();
            foreach (var resourceSpans in data.ResourceSpans)
            {
                otlp.WriteStartResourceSpans(resourceSpans.Resource, resourceSpans.SchemaUrl);
                foreach (var scopeSpans in resourceSpans.ScopeSpans)
                {
                    otlp.WriteStartScopeSpans(scopeSpans.Scope, scopeSpans.SchemaUrl);
                    foreach (var page in scopeSpans.Spans.Chunk(40))
                    {
                        foreach (var span in page)
                        {
                            // Half of the spans as stored bytes, as the export path has them.
                            if (span.SpanId[1] % 2 == 0)
                            {
                                otlp.WriteSpan(span.ToByteArray());
                            }
                            else
                            {
                                otlp.WriteSpan(span);
                            }
                        }

                        json.Flush();
                        flushes++;
                    }

                    otlp.WriteEndScopeSpans();
                }

                otlp.WriteEndResourceSpans();
            }

            otlp.WriteEndTracesData();
        }

        Assert.True(flushes > 5);
        Assert.Equal(OtlpJson.SerializeTracesData(data), stream.ToArray());
    }

    [Fact]
    public void StreamingWriter_OutOfOrderCall_Throws()
    {
        using var json = new Utf8JsonWriter(new ArrayBufferWriter<byte>());
        var otlp = new OtlpJsonWriter(json);
        otlp.WriteStartTracesData();

        var error = Assert.Throws<InvalidOperationException>(() => otlp.WriteSpan(new Span()));
        Assert.Contains("WriteSpan", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SerializeExportTraceServiceResponse_PartialSuccess_RoundTrips()
    {
        var response = new ExportTraceServiceResponse { PartialSuccess = new ExportTracePartialSuccess { RejectedSpans = 2, ErrorMessage = "2 of 5 spans rejected" } };

        var json = OtlpJson.SerializeExportTraceServiceResponse(response);

        Assert.Equal("""{"partialSuccess":{"rejectedSpans":"2","errorMessage":"2 of 5 spans rejected"}}""", Encoding.UTF8.GetString(json));
        Assert.Equal(response, OtlpJson.ParseExportTraceServiceResponse(json));
        Assert.Equal("{}", Encoding.UTF8.GetString(OtlpJson.SerializeExportTraceServiceResponse(new ExportTraceServiceResponse())));
        Assert.Equal(response, OtlpJson.ParseExportTraceServiceResponse("""{"partial_success":{"rejected_spans":2,"error_message":"2 of 5 spans rejected"}}"""u8));
    }
}
