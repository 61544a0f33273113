using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Trulayer.Auth.Api;

/// <summary>
/// Reads a JSON request body, turning what the framework would answer with a bare 400 (no body, wrong
/// content type, malformed JSON) into a message that says what to send.
/// </summary>
internal static class JsonBody
{
    public static async Task<(T? Body, string? Error)> ReadAsync<T>(HttpRequest request, string example) where T : class
    {
        if (!request.HasJsonContentType())
        {
            return (null, $"send a JSON body (Content-Type: application/json), e.g. {example}");
        }

        try
        {
            var options = request.HttpContext.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
            var body = await request.ReadFromJsonAsync<T>(options, request.HttpContext.RequestAborted);
            return body is null ? (null, $"the body is empty; send e.g. {example}") : (body, null);
        }
        catch (JsonException ex)
        {
            return (null, $"the body could not be read as the JSON expected ({ex.Message}); send e.g. {example}");
        }
    }

    /// <summary>A trimmed name of 1 to <paramref name="maxLength"/> characters, or the reason it is not one.</summary>
    public static string? ValidName(string? value, string field, int maxLength, out string error)
    {
        var trimmed = value?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            error = $"{field} is required";
            return null;
        }

        if (trimmed.Length > maxLength || trimmed.Any(char.IsControl))
        {
            error = $"{field} must be at most {maxLength} printable characters";
            return null;
        }

        error = "";
        return trimmed;
    }
}
