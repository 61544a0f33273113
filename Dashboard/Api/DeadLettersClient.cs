using System.Text.Json;

namespace Trulayer.Dashboard.Api;

/// <summary>An entry of GET /v1/dlq: a record the processor could not store, kept until an owner resolves it.</summary>
public sealed record DeadLetter(
    string Id, string Signal, string Key, string? ProjectId, string Topic, int Partition, long Offset, string Stage, string Reason,
    DateTimeOffset FailedAt, int? Count, long Size, string Status, DateTimeOffset? ResolvedAt, string? ResolvedBy, int ReplayAttempts,
    DateTimeOffset? LastReplayAt, string? LastReplayOutcome)
{
    public bool IsOpen => Status == "open";
}

public sealed record DeadLetterList(IReadOnlyList<DeadLetter> DeadLetters);

/// <summary>GET /v1/dlq/{id}: the entry, and its record decoded as OTLP/JSON when it decodes.</summary>
public sealed record DeadLetterDetail(DeadLetter DeadLetter, JsonElement? Decoded, string? DecodeError);

/// <summary>/v1/dlq: list and show (any role), replay and discard (owner).</summary>
public sealed class DeadLettersClient(ApiHttp api)
{
    public Task<Page<DeadLetter>> ListAsync(string? cursor, int limit = 50, CancellationToken cancellationToken = default)
        => api.GetPageAsync<DeadLetterList, DeadLetter>(
            $"v1/dlq?limit={limit}{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}", l => l.DeadLetters, cancellationToken);

    public Task<DeadLetterDetail> GetAsync(string id, CancellationToken cancellationToken = default)
        => api.GetAsync<DeadLetterDetail>($"v1/dlq/{Uri.EscapeDataString(id)}", cancellationToken);

    public Task ReplayAsync(string id) => api.SendAsync(HttpMethod.Post, $"v1/dlq/{Uri.EscapeDataString(id)}/replay");

    public Task DiscardAsync(string id) => api.SendAsync(HttpMethod.Post, $"v1/dlq/{Uri.EscapeDataString(id)}/discard");
}
