using System.Text;
using Google.Protobuf;
using OpenTelemetry.Proto.Logs.V1;
using Trulayer.Otlp.Json;

namespace Trulayer.Otlp.Tests;

public sealed class OtlpJsonLogsReaderTests
{
    private static LogRecord OnlyRecord(string recordBody)
        => OtlpJson.ParseExportLogsServiceRequest(Encoding.UTF8.GetBytes("""{"resourceLogs":[{"scopeLogs":[{"logRecords":[{""" + recordBody + "}]}]}]}"))
            .ResourceLogs.Single().ScopeLogs.Single().LogRecords.Single();

    [Fact]
    public void ParseLogs_GenAiEvent_ReadsEveryField()
    {
        var json = """
            {"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"chat"}}]},
              "scopeLogs":[{"scope":{"name":"@opentelemetry/instrumentation-openai","version":"0.1.0"},
                "logRecords":[{"timeUnixNano":"1700000000000000000","observedTimeUnixNano":1700000000500000000,
                  "severityNumber":"SEVERITY_NUMBER_INFO","severityText":"INFO","eventName":"gen_ai.user.message",
                  "body":{"kvlistValue":{"values":[{"key":"content","value":{"stringValue":"hello"}}]}},
                  "attributes":[{"key":"gen_ai.system","value":{"stringValue":"openai"}}],"droppedAttributesCount":2,"flags":1,
                  "traceId":"0AF7651916CD43DD8448EB211C80319C","spanId":"b7ad6b7169203331"}],
                "schemaUrl":"https://opentelemetry.io/schemas/1.36.0"}]}]}
            """;

        var request = OtlpJson.ParseExportLogsServiceRequest(Encoding.UTF8.GetBytes(json));

        var resourceLogs = request.ResourceLogs.Single();
        Assert.Equal("chat", resourceLogs.Resource.Attributes.Single().Value.StringValue);
        var scopeLogs = resourceLogs.ScopeLogs.Single();
        Assert.Equal("@opentelemetry/instrumentation-openai", scopeLogs.Scope.Name);
        Assert.Equal("https://opentelemetry.io/schemas/1.36.0", scopeLogs.SchemaUrl);
        var record = scopeLogs.LogRecords.Single();
        Assert.Equal(1700000000000000000UL, record.TimeUnixNano);
        Assert.Equal(1700000000500000000UL, record.ObservedTimeUnixNano);
        Assert.Equal(SeverityNumber.Info, record.SeverityNumber);
        Assert.Equal("INFO", record.SeverityText);
        Assert.Equal("gen_ai.user.message", record.EventName);
        Assert.Equal("hello", record.Body.KvlistValue.Values.Single().Value.StringValue);
        Assert.Equal("gen_ai.system", record.Attributes.Single().Key);
        Assert.Equal(2U, record.DroppedAttributesCount);
        Assert.Equal(1U, record.Flags);
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", Convert.ToHexStringLower(record.TraceId.Span));
        Assert.Equal("b7ad6b7169203331", Convert.ToHexStringLower(record.SpanId.Span));
    }

    [Theory]
    [InlineData("\"SEVERITY_NUMBER_WARN\"", SeverityNumber.Warn)]
    [InlineData("13", SeverityNumber.Warn)]
    [InlineData("\"17\"", SeverityNumber.Error)]
    [InlineData("\"SEVERITY_NUMBER_FATAL4\"", SeverityNumber.Fatal4)]
    public void ParseLogs_SeverityNumber_AsNameOrNumber(string value, SeverityNumber expected)
    {
        Assert.Equal(expected, OnlyRecord($"\"severityNumber\":{value}").SeverityNumber);
    }

    [Fact]
    public void ParseLogs_SnakeCaseKeys_ReadLikeCamelCase()
    {
        var json = """{"resource_logs":[{"scope_logs":[{"log_records":[{"event_name":"gen_ai.choice","severity_text":"info","observed_time_unix_nano":"5"}]}]}]}""";

        var record = OtlpJson.ParseLogsData(Encoding.UTF8.GetBytes(json)).ResourceLogs.Single().ScopeLogs.Single().LogRecords.Single();

        Assert.Equal("gen_ai.choice", record.EventName);
        Assert.Equal("info", record.SeverityText);
        Assert.Equal(5UL, record.ObservedTimeUnixNano);
    }

    [Theory]
    [InlineData("\"traceId\":\"xyz\"", "resourceLogs[0].scopeLogs[0].logRecords[0].traceId")]
    [InlineData("\"severityNumber\":\"SEVERITY_NUMBER_LOUD\"", "resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber")]
    [InlineData("\"body\":{\"intValue\":\"1.5\"}", "resourceLogs[0].scopeLogs[0].logRecords[0].body.intValue")]
    public void ParseLogs_InvalidValue_NamesItsPath(string recordBody, string path)
    {
        var error = Assert.Throws<OtlpJsonException>(() => OnlyRecord(recordBody));

        Assert.Equal(path, error.Path);
    }

    [Fact]
    public void TranscodeLogs_EncodesAsGoogleProtobufDoes()
    {
        var record = new LogRecord
        {
            TimeUnixNano = 1,
            ObservedTimeUnixNano = 2,
            SeverityNumber = SeverityNumber.Error2,
            SeverityText = "E",
            Body = new OpenTelemetry.Proto.Common.V1.AnyValue { StringValue = "boom" },
            TraceId = ByteString.CopyFrom(new byte[16] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 }),
            SpanId = ByteString.CopyFrom(new byte[8] { 1, 2, 3, 4, 5, 6, 7, 8 }),
            EventName = "gen_ai.choice",
            Flags = 1,
        };
        var json = """
            {"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1","severityNumber":18,"severityText":"E","body":{"stringValue":"boom"},
              "flags":1,"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","observedTimeUnixNano":"2","eventName":"gen_ai.choice"}]}]}]}
            """;
        var expected = new LogsData { ResourceLogs = { new ResourceLogs { ScopeLogs = { new ScopeLogs { LogRecords = { record } } } } } };

        using var payload = OtlpJson.TranscodeLogs(Encoding.UTF8.GetBytes(json));

        Assert.Equal(expected, LogsData.Parser.ParseFrom(payload.Bytes.Span));
    }

    [Fact]
    public void SerializeLogsData_EveryField_RoundTrips()
    {
        var record = new LogRecord
        {
            TimeUnixNano = ulong.MaxValue,
            ObservedTimeUnixNano = 2,
            SeverityNumber = SeverityNumber.Warn3,
            SeverityText = "warning",
            Body = new OpenTelemetry.Proto.Common.V1.AnyValue { ArrayValue = new OpenTelemetry.Proto.Common.V1.ArrayValue { Values = { new OpenTelemetry.Proto.Common.V1.AnyValue { BytesValue = ByteString.CopyFrom(1, 2, 3) } } } },
            Attributes = { new OpenTelemetry.Proto.Common.V1.KeyValue { Key = "event.name", Value = new OpenTelemetry.Proto.Common.V1.AnyValue { StringValue = "gen_ai.choice" } } },
            DroppedAttributesCount = 3,
            Flags = 0x101,
            TraceId = ByteString.CopyFrom(Enumerable.Range(1, 16).Select(i => (byte)i).ToArray()),
            SpanId = ByteString.CopyFrom(Enumerable.Range(1, 8).Select(i => (byte)i).ToArray()),
            EventName = "gen_ai.choice",
        };
        var data = new LogsData
        {
            ResourceLogs =
            {
                new ResourceLogs
                {
                    Resource = new OpenTelemetry.Proto.Resource.V1.Resource { DroppedAttributesCount = 1 },
                    SchemaUrl = "r",
                    ScopeLogs = { new ScopeLogs { Scope = new OpenTelemetry.Proto.Common.V1.InstrumentationScope { Name = "s" }, SchemaUrl = "s", LogRecords = { record, new LogRecord() } } },
                },
            },
        };

        var json = OtlpJson.SerializeLogsData(data);

        Assert.Equal(data, OtlpJson.ParseLogsData(json));
        Assert.Contains("\"eventName\":\"gen_ai.choice\"", Encoding.UTF8.GetString(json), StringComparison.Ordinal);
    }
}
