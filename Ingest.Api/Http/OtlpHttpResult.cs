using System.Globalization;
using Google.Protobuf;
using Microsoft.Net.Http.Headers;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using Trulayer.Otlp;
using Trulayer.Otlp.Json;

namespace Trulayer.Ingest.Http;

/// <summary>
/// An OTLP/HTTP answer in the request's encoding: an <c>ExportTraceServiceResponse</c>, or an error body
/// (a protobuf <c>google.rpc.Status</c>, or <c>{"code","message","error"}</c> JSON; DESIGN.md "Errors").
/// </summary>
public sealed class OtlpHttpResult : IResult, IStatusCodeHttpResult, IContentTypeHttpResult
{
    public const string ProtobufContentType = "application/x-protobuf";
    public const string JsonContentType = "application/json";

    private readonly byte[] _body;
    private readonly TimeSpan _retryAfter;

    private OtlpHttpResult(int statusCode, string contentType, byte[] body, TimeSpan retryAfter)
    {
        StatusCode = statusCode;
        ContentType = contentType;
        _body = body;
        _retryAfter = retryAfter;
    }

    public int StatusCode { get; }

    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    public string ContentType { get; }

    public static OtlpHttpResult Success(ExportTraceServiceResponse response, OtlpEncoding encoding) => encoding == OtlpEncoding.Json
        ? new(StatusCodes.Status200OK, JsonContentType, OtlpJson.SerializeExportTraceServiceResponse(response), default)
        : new(StatusCodes.Status200OK, ProtobufContentType, response.ToByteArray(), default);

    public static OtlpHttpResult Success(ExportLogsServiceResponse response, OtlpEncoding encoding) => encoding == OtlpEncoding.Json
        ? new(StatusCodes.Status200OK, JsonContentType, OtlpJson.SerializeExportLogsServiceResponse(response), default)
        : new(StatusCodes.Status200OK, ProtobufContentType, response.ToByteArray(), default);

    /// <summary>An accepted export's response for its signal: <c>ExportTraceServiceResponse</c> or <c>ExportLogsServiceResponse</c>.</summary>
    public static OtlpHttpResult Success(OtlpSignal signal, IngestResult result, OtlpEncoding encoding) => signal == OtlpSignal.Logs
        ? Success(ExportResponses.Logs(result), encoding)
        : Success(ExportResponses.Traces(result), encoding);

    /// <summary>An error with a message that says what to change; 429 and 503 carry Retry-After.</summary>
    public static OtlpHttpResult Error(int statusCode, string message, OtlpEncoding encoding, TimeSpan retryAfter = default)
    {
        var code = OtlpError.CodeFor(statusCode);
        return encoding == OtlpEncoding.Json
            ? new(statusCode, JsonContentType, OtlpError.ToJson(code, message), retryAfter)
            : new(statusCode, ProtobufContentType, OtlpError.ToProtobuf(code, message), retryAfter);
    }

    public Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCode;
        response.ContentType = ContentType;
        response.ContentLength = _body.Length;
        if (_retryAfter > TimeSpan.Zero)
        {
            response.Headers[HeaderNames.RetryAfter] = Math.Ceiling(_retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }

        return response.Body.WriteAsync(_body, httpContext.RequestAborted).AsTask();
    }
}
