using System.Text.Encodings.Web;
using System.Text.Json;
using Google.Protobuf;

namespace Trulayer.Otlp;

/// <summary>gRPC status codes (as google.rpc.Code numbers them) that OTLP errors carry.</summary>
public enum GrpcStatusCode
{
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    Unauthenticated = 16,
}

/// <summary>
/// The error body of an OTLP request (DESIGN.md, "Errors"): a protobuf <c>google.rpc.Status</c> for a
/// protobuf request, and for a JSON request <c>{"code": ..., "message": ..., "error": ...}</c> (the
/// Status fields the OTLP spec asks for, plus the <c>error</c> field every other route answers with).
/// Used by ingest and by the gateway, which answers OTLP requests it refuses itself.
/// </summary>
public static class OtlpError
{
    /// <summary>The gRPC code OTLP/HTTP pairs with an HTTP status.</summary>
    public static GrpcStatusCode CodeFor(int httpStatus) => httpStatus switch
    {
        400 => GrpcStatusCode.InvalidArgument,
        401 => GrpcStatusCode.Unauthenticated,
        403 => GrpcStatusCode.PermissionDenied,
        404 => GrpcStatusCode.NotFound,
        413 => GrpcStatusCode.ResourceExhausted,
        415 => GrpcStatusCode.InvalidArgument,
        429 => GrpcStatusCode.ResourceExhausted,
        503 => GrpcStatusCode.Unavailable,
        _ when httpStatus >= 500 => GrpcStatusCode.Internal,
        _ => GrpcStatusCode.Unknown,
    };

    public static byte[] ToProtobuf(GrpcStatusCode code, string message)
        => new Google.Rpc.Status { Code = (int)code, Message = message }.ToByteArray();

    public static byte[] ToJson(GrpcStatusCode code, string message)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping keeps quotes and apostrophes readable; the body is JSON, never embedded in HTML.
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteNumber("code", (int)code);
            writer.WriteString("message", message);
            writer.WriteString("error", message);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
