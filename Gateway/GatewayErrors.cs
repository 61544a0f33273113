using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Trulayer.Otlp;
using Trulayer.ServiceDefaults.Http;

namespace Trulayer.Gateway;

/// <summary>
/// Writes the answers the gateway gives itself (401, 403, 404, 413, 429, 503), in the body each route
/// speaks (DESIGN.md, "Errors"): <c>{"error": "..."}</c>, OTLP's google.rpc.Status (protobuf or JSON,
/// as the request), or a gRPC status in trailers. 429 and 503 carry Retry-After
/// (gRPC: grpc-retry-pushback-ms).
/// </summary>
internal static class GatewayErrors
{
    public const string ProtobufMediaType = "application/x-protobuf";
    public const string GrpcMediaType = "application/grpc";

    public static async Task WriteAsync(HttpContext context, ErrorStyle style, int status, string message, TimeSpan? retryAfter = null)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return;
        }

        if (style == ErrorStyle.Grpc)
        {
            WriteGrpcStatus(response, status == StatusCodes.Status501NotImplemented ? GrpcStatusCode.Unimplemented : OtlpError.CodeFor(status), message, retryAfter);
            return;
        }

        response.StatusCode = status;
        if (retryAfter is { } delay)
        {
            response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(delay.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        if (style == ErrorStyle.Json)
        {
            await ErrorResponse.WriteAsync(context, status, message);
            return;
        }

        var protobuf = IsProtobuf(context.Request.ContentType);
        var body = protobuf ? OtlpError.ToProtobuf(OtlpError.CodeFor(status), message) : OtlpError.ToJson(OtlpError.CodeFor(status), message);
        response.ContentType = protobuf ? ProtobufMediaType : "application/json";
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, context.RequestAborted);
    }

    /// <summary>
    /// A "trailers-only" gRPC answer: HTTP 200 whose only HEADERS frame ends the stream and carries
    /// grpc-status and grpc-message, as gRPC servers answer a call they refuse before any message.
    /// </summary>
    private static void WriteGrpcStatus(HttpResponse response, GrpcStatusCode code, string message, TimeSpan? retryAfter)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = GrpcMediaType;
        response.Headers["grpc-status"] = ((int)code).ToString(CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = PercentEncode(message);
        if (retryAfter is { } delay)
        {
            response.Headers["grpc-retry-pushback-ms"] = ((long)Math.Ceiling(delay.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
        }
    }

    public static bool IsProtobuf(string? contentType)
        => MediaTypeHeaderValue.TryParse(contentType, out var parsed)
           && string.Equals(parsed.MediaType, ProtobufMediaType, StringComparison.OrdinalIgnoreCase);

    /// <summary>grpc-message is percent-encoded UTF-8: everything outside printable ASCII, and '%' itself.</summary>
    public static string PercentEncode(string message)
    {
        var builder = new StringBuilder(message.Length);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E and not (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }
}
