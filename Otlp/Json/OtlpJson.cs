using System.Buffers;
using System.Text.Json;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Protobuf;

namespace Trulayer.Otlp.Json;

/// <summary>
/// OTLP/JSON input that is wrong, with the JSON path of the offending value
/// (<c>resourceSpans[0].scopeSpans[0].spans[3].traceId</c>) and what is wrong with it.
/// </summary>
public sealed class OtlpJsonException(string path, string problem) : FormatException($"{path}: {problem}")
{
    public string Path { get; } = path;

    public string Problem { get; } = problem;
}

/// <summary>
/// A protobuf encoding produced from OTLP/JSON, in a pooled buffer: valid until disposed.
/// </summary>
public sealed class OtlpProtobufPayload : IDisposable
{
    private readonly ProtobufBuilder _builder;

    internal OtlpProtobufPayload(ProtobufBuilder builder, ReadOnlyMemory<byte> bytes)
    {
        _builder = builder;
        Bytes = bytes;
    }

    public ReadOnlyMemory<byte> Bytes { get; }

    public void Dispose() => _builder.Dispose();
}

/// <summary>The OTLP/JSON codec for traces and logs: reads requests, TracesData and LogsData, writes responses, TracesData and LogsData.</summary>
public static class OtlpJson
{
    /// <summary>
    /// Transcodes an OTLP/JSON <c>ExportTraceServiceRequest</c> or <c>TracesData</c> (the same shape)
    /// into its protobuf encoding without building message objects. Throws <see cref="OtlpJsonException"/>.
    /// </summary>
    public static OtlpProtobufPayload TranscodeTraces(ReadOnlySpan<byte> utf8Json) => Transcode(utf8Json, OtlpJsonMessages.TracesData);

    /// <summary>
    /// Transcodes an OTLP/JSON <c>ExportLogsServiceRequest</c> or <c>LogsData</c> (the same shape) into its
    /// protobuf encoding; <c>severityNumber</c> may be the enum's name or its number. Throws <see cref="OtlpJsonException"/>.
    /// </summary>
    public static OtlpProtobufPayload TranscodeLogs(ReadOnlySpan<byte> utf8Json) => Transcode(utf8Json, OtlpJsonMessages.LogsData);

    /// <summary>Transcodes an OTLP/JSON <paramref name="document"/> (the root message of a signal) into its protobuf encoding.</summary>
    internal static OtlpProtobufPayload Transcode(ReadOnlySpan<byte> utf8Json, OtlpJsonMessage document)
    {
        // JSON is larger than its protobuf encoding (hex ids, key names), so the input size is a good first buffer.
        var builder = new ProtobufBuilder(Math.Min(utf8Json.Length, 64 * 1024 * 1024));
        try
        {
            OtlpJsonTranscoder.Transcode(utf8Json, document, builder);
            return new OtlpProtobufPayload(builder, builder.Finish());
        }
        catch
        {
            builder.Dispose();
            throw;
        }
    }

    public static ExportTraceServiceRequest ParseExportTraceServiceRequest(ReadOnlySpan<byte> utf8Json)
    {
        using var payload = TranscodeTraces(utf8Json);
        return ExportTraceServiceRequest.Parser.ParseFrom(payload.Bytes.Span);
    }

    public static ExportLogsServiceRequest ParseExportLogsServiceRequest(ReadOnlySpan<byte> utf8Json)
    {
        using var payload = TranscodeLogs(utf8Json);
        return ExportLogsServiceRequest.Parser.ParseFrom(payload.Bytes.Span);
    }

    public static LogsData ParseLogsData(ReadOnlySpan<byte> utf8Json)
    {
        using var payload = TranscodeLogs(utf8Json);
        return LogsData.Parser.ParseFrom(payload.Bytes.Span);
    }

    public static TracesData ParseTracesData(ReadOnlySpan<byte> utf8Json)
    {
        using var payload = TranscodeTraces(utf8Json);
        return TracesData.Parser.ParseFrom(payload.Bytes.Span);
    }

    /// <summary>
    /// Reads an <c>ExportTraceServiceResponse</c> (<c>{"partialSuccess": {"rejectedSpans": ..., "errorMessage": ...}}</c>),
    /// for clients and tests of the receiver.
    /// </summary>
    public static ExportTraceServiceResponse ParseExportTraceServiceResponse(ReadOnlySpan<byte> utf8Json)
    {
        var response = new ExportTraceServiceResponse();
        if (utf8Json.IsEmpty)
        {
            return response;
        }

        var reader = new Utf8JsonReader(utf8Json);
        using var document = JsonDocument.ParseValue(ref reader);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            if (OtlpJsonFields.MatchResponse(property.Name) != "partialsuccess" || property.Value.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            var partial = new ExportTracePartialSuccess();
            foreach (var field in property.Value.EnumerateObject())
            {
                switch (OtlpJsonFields.MatchResponse(field.Name))
                {
                    case "rejectedspans":
                        partial.RejectedSpans = field.Value.ValueKind == JsonValueKind.String
                            ? long.Parse(field.Value.GetString()!, System.Globalization.CultureInfo.InvariantCulture)
                            : field.Value.GetInt64();
                        break;
                    case "errormessage":
                        partial.ErrorMessage = field.Value.GetString() ?? "";
                        break;
                }
            }

            response.PartialSuccess = partial;
        }

        return response;
    }

    public static byte[] SerializeExportTraceServiceResponse(ExportTraceServiceResponse response)
        => Serialize(response, OtlpJsonWriter.WriteExportTraceServiceResponse, 128);

    public static byte[] SerializeExportLogsServiceResponse(ExportLogsServiceResponse response)
        => Serialize(response, OtlpJsonWriter.WriteExportLogsServiceResponse, 128);

    public static byte[] SerializeLogsData(LogsData data)
        => Serialize(data, OtlpJsonWriter.WriteLogsData, 4096);

    public static byte[] SerializeExportLogsServiceRequest(ExportLogsServiceRequest request)
        => Serialize(request, OtlpJsonWriter.WriteExportLogsServiceRequest, 4096);

    public static byte[] SerializeTracesData(TracesData data)
        => Serialize(data, OtlpJsonWriter.WriteTracesData, 4096);

    public static byte[] SerializeExportTraceServiceRequest(ExportTraceServiceRequest request)
        => Serialize(request, OtlpJsonWriter.WriteExportTraceServiceRequest, 4096);

    private static byte[] Serialize<T>(T message, Action<Utf8JsonWriter, T> write, int initialCapacity)
    {
        var buffer = new ArrayBufferWriter<byte>(initialCapacity);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer, message);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
