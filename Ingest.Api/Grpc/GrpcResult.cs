using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Google.Protobuf;
using Trulayer.Otlp;

namespace Trulayer.Ingest.Grpc;

/// <summary>
/// A unary gRPC answer written on Kestrel's HTTP/2: a length-prefixed response message followed by
/// the <c>grpc-status</c> trailer, or a "trailers-only" error (status, percent-encoded message and,
/// for UNAVAILABLE and RESOURCE_EXHAUSTED, <c>grpc-retry-pushback-ms</c>, all in the one HEADERS frame).
/// </summary>
public sealed class GrpcResult : IResult
{
    public const string ContentType = "application/grpc";

    private readonly byte[]? _message;
    private readonly int _httpStatus;
    private readonly TimeSpan _retryPushback;

    private GrpcResult(GrpcStatusCode code, string detail, byte[]? message, int httpStatus, TimeSpan retryPushback)
    {
        Code = code;
        Detail = detail;
        _message = message;
        _httpStatus = httpStatus;
        _retryPushback = retryPushback;
    }

    public GrpcStatusCode Code { get; }

    public string Detail { get; }

    public static GrpcResult Ok(IMessage response)
        => new(GrpcStatusCode.Ok, "", response.ToByteArray(), StatusCodes.Status200OK, default);

    /// <summary>An accepted export's response message for its signal.</summary>
    public static GrpcResult Ok(OtlpSignal signal, IngestResult result)
        => Ok(signal == OtlpSignal.Logs ? ExportResponses.Logs(result) : ExportResponses.Traces(result));

    public static GrpcResult Error(GrpcStatusCode code, string message, TimeSpan retryPushback = default)
        => new(code, message, null, StatusCodes.Status200OK, retryPushback);

    /// <summary>A request that is not gRPC at all (wrong media type or HTTP version), answered with an HTTP status too.</summary>
    public static GrpcResult NotGrpc(int httpStatus, string message)
        => new(GrpcStatusCode.Internal, message, null, httpStatus, default);

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = _httpStatus;
        response.ContentType = ContentType;
        response.Headers["grpc-accept-encoding"] = "identity,gzip";
        if (_message is null || !response.SupportsTrailers())
        {
            response.Headers["grpc-status"] = ((int)Code).ToString(CultureInfo.InvariantCulture);
            if (Detail.Length > 0)
            {
                response.Headers["grpc-message"] = PercentEncode(Detail);
            }

            if (_retryPushback > TimeSpan.Zero)
            {
                response.Headers["grpc-retry-pushback-ms"] = ((long)_retryPushback.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
            }

            return;
        }

        var frame = new byte[5 + _message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)_message.Length);
        _message.CopyTo(frame, 5);
        await response.Body.WriteAsync(frame, httpContext.RequestAborted);
        response.AppendTrailer("grpc-status", "0");
    }

    /// <summary>grpc-message is percent-encoded UTF-8: printable ASCII except '%' stays as is.</summary>
    public static string PercentEncode(string message)
    {
        var text = new StringBuilder(message.Length);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
            {
                text.Append((char)b);
            }
            else
            {
                text.Append(CultureInfo.InvariantCulture, $"%{b:X2}");
            }
        }

        return text.ToString();
    }
}
