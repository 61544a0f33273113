using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Trulayer.AppHost.Run;

/// <summary>
/// What a developer (or the load tool, or a test) needs to talk to the running stack; written to
/// <c>.trulayer/dev.json</c> and filled in as the stack comes up.
/// </summary>
public sealed record DevInfo
{
    public const string FileName = "dev.json";

    [JsonPropertyName("gateway")] public string? Gateway { get; init; }
    [JsonPropertyName("otlpGrpc")] public string? OtlpGrpc { get; init; }
    [JsonPropertyName("apiKey")] public string? ApiKey { get; init; }
    [JsonPropertyName("projectId")] public string? ProjectId { get; init; }
    [JsonPropertyName("sessions")] public IReadOnlyDictionary<string, string>? Sessions { get; init; }
    [JsonPropertyName("postgres")] public string? Postgres { get; init; }
    [JsonPropertyName("kafka")] public string? Kafka { get; init; }

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static DevInfo? Read(string stateDirectory)
    {
        var path = Path.Combine(stateDirectory, FileName);
        return File.Exists(path) ? JsonSerializer.Deserialize<DevInfo>(File.ReadAllText(path), Options) : null;
    }

    /// <summary>Auth.Api's answer to POST /v1/auth/dev/sessions.</summary>
    private sealed record DevSessions(
        [property: JsonPropertyName("projectId")] string ProjectId,
        [property: JsonPropertyName("sessions")] Dictionary<string, string> Sessions);

    /// <summary>
    /// Adds what a developer needs to call the stack as someone: the dev API key (a generated secret the
    /// AppHost gave Auth.Api to seed), and from Auth.Api's dev issuer the seeded project and fresh
    /// owner, member and viewer sessions. Auth.Api's route is internal: it takes Auth:InternalKey.
    /// </summary>
    public async Task<DevInfo> WithDevAccessAsync(Uri auth, string internalKey, string apiKey, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = auth, Timeout = TimeSpan.FromSeconds(10) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/dev/sessions");
        request.Headers.Add("X-Trulayer-Internal-Key", internalKey);
        using var response = await http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException(
                $"auth did not hand out dev sessions: POST /v1/auth/dev/sessions answered {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }

        var dev = await response.Content.ReadFromJsonAsync<DevSessions>(cancellationToken)
                  ?? throw new InvalidOperationException("auth answered POST /v1/auth/dev/sessions with an empty body");
        return this with { ApiKey = apiKey, ProjectId = dev.ProjectId, Sessions = dev.Sessions };
    }

    public void Write(string stateDirectory)
    {
        // Written whole to a temporary file and renamed, so a reader never sees half of it.
        var path = Path.Combine(stateDirectory, FileName);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, Options));
        File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temporary, path, overwrite: true);
    }
}
