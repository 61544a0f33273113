namespace Trulayer.Dashboard.Api;

public sealed record ApiKeyInfo(string Id, string Name, string ProjectId, string Prefix, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt);

/// <summary>POST /v1/api-keys's answer: the only time the secret is shown.</summary>
public sealed record CreatedApiKey(string Id, string Name, string ProjectId, string Prefix, string Key, string CreatedBy, DateTimeOffset CreatedAt);

public sealed record MemberInfo(string UserId, string Role, DateTimeOffset CreatedAt);

public sealed record AuditActor(string Kind, string Id, string? Role);

public sealed record AuditLogEntry(
    string Id, long Sequence, DateTimeOffset OccurredAt, string Source, string Phase, AuditActor Actor, string? ProjectId,
    string Action, string Method, string Route, string? TargetId, string? Detail, int? Status, string? CorrelationId, string? ClientAddress);

public sealed record AuditLogPage(IReadOnlyList<AuditLogEntry> Entries);

/// <summary>/v1/api-keys.</summary>
public sealed class ApiKeysClient(ApiHttp api)
{
    public Task<IReadOnlyList<ApiKeyInfo>> ListAsync(CancellationToken cancellationToken = default)
        => api.GetAsync<IReadOnlyList<ApiKeyInfo>>("v1/api-keys", cancellationToken);

    public Task<CreatedApiKey> CreateAsync(string name, string projectId)
        => api.SendJsonAsync<CreatedApiKey>(HttpMethod.Post, "v1/api-keys", new { name, projectId });

    public Task RevokeAsync(string id) => api.SendAsync(HttpMethod.Delete, $"v1/api-keys/{Uri.EscapeDataString(id)}");
}

/// <summary>/v1/members.</summary>
public sealed class MembersClient(ApiHttp api)
{
    public Task<IReadOnlyList<MemberInfo>> ListAsync(CancellationToken cancellationToken = default)
        => api.GetAsync<IReadOnlyList<MemberInfo>>("v1/members", cancellationToken);

    public Task<MemberInfo> AddAsync(string userId, string role)
        => api.SendJsonAsync<MemberInfo>(HttpMethod.Post, "v1/members", new { userId, role });

    public Task<MemberInfo> ChangeRoleAsync(string userId, string role)
        => api.SendJsonAsync<MemberInfo>(HttpMethod.Patch, $"v1/members/{Uri.EscapeDataString(userId)}", new { role });

    public Task RemoveAsync(string userId) => api.SendAsync(HttpMethod.Delete, $"v1/members/{Uri.EscapeDataString(userId)}");
}

/// <summary>/v1/audit-log, newest first, keyset-paged.</summary>
public sealed class AuditLogClient(ApiHttp api)
{
    public Task<Page<AuditLogEntry>> ListAsync(string? cursor, int limit = 50, CancellationToken cancellationToken = default)
        => api.GetPageAsync<AuditLogPage, AuditLogEntry>(
            $"v1/audit-log?limit={limit}{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}", p => p.Entries, cancellationToken);
}
