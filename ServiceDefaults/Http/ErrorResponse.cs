using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Trulayer.ServiceDefaults.Http;

/// <summary>The error body of every non-OTLP route: <c>{"error": "..."}</c>, a message that says what to change.</summary>
public sealed record ErrorResponse([property: JsonPropertyName("error")] string Error)
{
    public static JsonHttpResult<ErrorResponse> Result(int statusCode, string message)
        => TypedResults.Json(new ErrorResponse(message), statusCode: statusCode);

    public static Task WriteAsync(HttpContext context, int statusCode, string message)
    {
        context.Response.StatusCode = statusCode;
        return context.Response.WriteAsJsonAsync(new ErrorResponse(message), context.RequestAborted);
    }
}
