using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Components.WebAssembly.Http;

namespace Trulayer.Dashboard.Api;

/// <summary>A refusal or failure of the public API, with the sentence its <c>{"error": "..."}</c> body gave.</summary>
public sealed class ApiException(HttpStatusCode status, string message) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;

    /// <summary>The session is missing or expired: the person has to sign in again.</summary>
    public bool NeedsSignIn => Status == HttpStatusCode.Unauthorized;
}

/// <summary>One page of a keyset-paged list: the items and the cursor of the next page (X-Next-Cursor), if more remain.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);

/// <summary>
/// How every API client of the dashboard talks to the gateway: same origin, the browser's
/// <c>__session</c> cookie (credentials included), JSON with the API's camelCase names, and one
/// error shape turned into <see cref="ApiException"/>. No page builds requests or reads JSON itself.
/// </summary>
public sealed class ApiHttp(HttpClient http)
{
    /// <summary>
    /// The API's JSON: source-generated readers for the bodies a page waits on (<see cref="DashboardJson"/>; the
    /// WebAssembly interpreter pays dearly for building reflection-based ones on a page's first visit), reflection
    /// for the rest.
    /// </summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        TypeInfoResolver = JsonTypeInfoResolver.Combine(DashboardJson.Default, new DefaultJsonTypeInfoResolver()),
    };

    public async Task<T> GetAsync<T>(string path, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, cancellationToken);
        return (await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken))!;
    }

    public async Task<Page<T>> GetPageAsync<TBody, T>(string path, Func<TBody, IReadOnlyList<T>> items, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, cancellationToken);
        var body = (await response.Content.ReadFromJsonAsync<TBody>(Json, cancellationToken))!;
        var next = response.Headers.TryGetValues("X-Next-Cursor", out var values) ? values.FirstOrDefault() : null;
        return new Page<T>(items(body), string.IsNullOrEmpty(next) ? null : next);
    }

    public async Task<JsonDocument> GetDocumentAsync(string path, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, cancellationToken);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        return await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
    }

    public async Task<TResult> SendJsonAsync<TResult>(HttpMethod method, string path, object body, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(method, path, JsonContent.Create(body, options: Json), cancellationToken);
        return (await response.Content.ReadFromJsonAsync<TResult>(Json, cancellationToken))!;
    }

    public async Task SendAsync(HttpMethod method, string path, object? body = null, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(method, path, body is null ? null : JsonContent.Create(body, options: Json), cancellationToken);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.SetBrowserRequestCredentials(BrowserRequestCredentials.SameOrigin);
        request.Headers.Accept.ParseAdd("application/json");
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException)
        {
            throw new ApiException(HttpStatusCode.ServiceUnavailable, "Trulayer cannot be reached: check your network connection, then try again.");
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            throw new ApiException(response.StatusCode, await ErrorMessageAsync(response, cancellationToken));
        }
    }

    private static async Task<string> ErrorMessageAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String)
            {
                return Sentence(error.GetString()!);
            }
        }
        catch (JsonException)
        {
            // Not the API's error shape (a proxy's page, say): fall through to the status.
        }

        return response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => "You are not signed in, or your session expired: sign in again.",
            HttpStatusCode.Forbidden => "Your role does not allow this.",
            HttpStatusCode.TooManyRequests => "Too many requests: wait a moment, then try again.",
            HttpStatusCode.ServiceUnavailable => "Trulayer is unavailable right now: try again in a few seconds.",
            _ => $"The request failed ({(int)response.StatusCode} {response.ReasonPhrase}).",
        };
    }

    private static string Sentence(string message)
        => message.Length == 0 ? message : char.ToUpperInvariant(message[0]) + message[1..] + (message.EndsWith('.') ? "" : ".");
}

/// <summary>The bodies read with source-generated metadata: the session, the lists, an opened span, the usage report.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SessionInfo))]
[JsonSerializable(typeof(TraceList))]
[JsonSerializable(typeof(TraceSpan))]
[JsonSerializable(typeof(SpanList))]
[JsonSerializable(typeof(SessionList))]
[JsonSerializable(typeof(SessionConversation))]
[JsonSerializable(typeof(UsageReport))]
internal sealed partial class DashboardJson : JsonSerializerContext;

/// <summary>Registration of the API clients, one per area of the public API.</summary>
public static class DashboardApiExtensions
{
    public static IServiceCollection AddDashboardApi(this IServiceCollection services, Uri baseAddress)
    {
        services.AddScoped(_ => new HttpClient { BaseAddress = baseAddress });
        services.AddScoped<ApiHttp>();
        services.AddScoped<PerformanceMarks>();
        services.AddScoped<SessionClient>();
        services.AddScoped<TracesClient>();
        services.AddScoped<SessionsClient>();
        services.AddScoped<SpansClient>();
        services.AddScoped<AnalyticsClient>();
        services.AddScoped<ModelPricesClient>();
        services.AddScoped<DeadLettersClient>();
        services.AddScoped<ApiKeysClient>();
        services.AddScoped<MembersClient>();
        services.AddScoped<AuditLogClient>();
        return services;
    }
}
