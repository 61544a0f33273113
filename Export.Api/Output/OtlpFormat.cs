using System.IO.Pipelines;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Trulayer.Export.Output;

/// <summary>The encodings a response can take: OTLP/JSON (the default) or protobuf.</summary>
internal enum OtlpFormat
{
    Json,
    Protobuf,
}

/// <summary>What a response carries: TracesData (spans) or LogsData (log records).</summary>
internal enum OtlpSignal
{
    Traces,
    Logs,
}

internal static class OtlpFormats
{
    /// <summary>
    /// The writer of <paramref name="signal"/>'s data in <paramref name="format"/>. Protobuf serves both:
    /// LogsData, ResourceLogs and ScopeLogs number their fields as TracesData, ResourceSpans and ScopeSpans
    /// do, so the same framing around the stored records is a LogsData.
    /// </summary>
    public static SpanPageWriter CreateWriter(this OtlpFormat format, PipeWriter output, OtlpSignal signal = OtlpSignal.Traces) => (format, signal) switch
    {
        (OtlpFormat.Protobuf, _) => new ProtobufSpanPageWriter(output),
        (_, OtlpSignal.Logs) => new JsonLogPageWriter(output),
        _ => new JsonSpanPageWriter(output),
    };

    /// <summary>
    /// The format an Accept header asks for: protobuf when it names application/x-protobuf (or
    /// application/protobuf) at least as strongly as JSON, JSON when it names JSON or any type, or sends
    /// no Accept; null when it accepts neither.
    /// </summary>
    public static OtlpFormat? Negotiate(StringValues accept)
    {
        if (StringValues.IsNullOrEmpty(accept) || !MediaTypeHeaderValue.TryParseList(accept, out var types) || types.Count == 0)
        {
            return OtlpFormat.Json;
        }

        double json = -1, protobuf = -1;
        foreach (var type in types)
        {
            var quality = type.Quality ?? 1.0;
            var name = type.MediaType;
            if (name.Equals(ProtobufSpanPageWriter.MediaType, StringComparison.OrdinalIgnoreCase) || name.Equals("application/protobuf", StringComparison.OrdinalIgnoreCase))
            {
                protobuf = Math.Max(protobuf, quality);
            }
            else if (name.Equals(JsonSpanPageWriter.MediaType, StringComparison.OrdinalIgnoreCase) || name.Equals("application/*", StringComparison.OrdinalIgnoreCase) || name.Equals("*/*", StringComparison.OrdinalIgnoreCase))
            {
                json = Math.Max(json, quality);
            }
        }

        if (protobuf > 0 && protobuf >= json)
        {
            return OtlpFormat.Protobuf;
        }

        return json > 0 ? OtlpFormat.Json : null;
    }
}
