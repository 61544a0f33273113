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
