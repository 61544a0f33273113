using System.Security.Cryptography;
using Npgsql;
using NpgsqlTypes;
using Trulayer.Auth.Audit;
using Trulayer.Auth.Organizations;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.ApiKeys;

/// <summary>An API key as lists show it: never the secret, only its first characters.</summary>
public sealed record ApiKeyInfo(
    Guid Id,
    string Name,
    Guid ProjectId,
    string Prefix,
    string CreatedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset? LastUsedAt,
    DateTimeOffset? RevokedAt);

/// <summary>A key found by its secret, for verification.</summary>
internal sealed record StoredApiKey(Guid Id, Guid ProjectId, Guid OrganizationId, DateTimeOffset? RevokedAt, ContentPolicy ContentPolicy);

/// <summary>
/// The auth.api_keys table. Every query is scoped to the caller's organization; creating and revoking
/// a key append its audit entry in the same transaction (<see cref="AuditLog"/>).
/// </summary>
internal sealed class ApiKeyStore(NpgsqlDataSource dataSource, AuditLog auditLog)
{
    private const string Columns = "k.id, k.name, k.project_id, k.lookup_prefix, k.created_by, k.created_at, k.last_used_at, k.revoked_at";

    /// <summary>Creates a key of <paramref name="projectId"/>; null when that project is not the organization's.</summary>
    public async Task<(ApiKeyInfo Info, string Secret)?> CreateAsync(Guid organizationId, Guid projectId, string name, string createdBy, AuditEntry audit, CancellationToken cancellationToken)
    {
        var secret = ApiKeySecret.Generate();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        ApiKeyInfo info;
        await using (var command = new NpgsqlCommand(
            $"""
            INSERT INTO auth.api_keys AS k (id, project_id, name, lookup_prefix, secret_hash, created_by)
            SELECT $1, p.id, $3, $4, $5, $6 FROM auth.projects p WHERE p.id = $2 AND p.organization_id = $7
            RETURNING {Columns}
            """,
            connection,
            transaction))
        {
            command.Parameters.Add(new() { Value = Guid.CreateVersion7() });
            command.Parameters.Add(new() { Value = projectId });
            command.Parameters.Add(new() { Value = name });
            command.Parameters.Add(new() { Value = ApiKeySecret.LookupPrefix(secret) });
            command.Parameters.Add(new() { Value = ApiKeySecret.Hash(secret) });
            command.Parameters.Add(new() { Value = createdBy });
            command.Parameters.Add(new() { Value = organizationId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            info = Read(reader);
        }

        // The entry names the key by its id and shows its prefix, as lists do; never the secret.
        await auditLog.AppendAsync(connection, transaction, organizationId,
            audit with { TargetId = info.Id.ToString(), ProjectId = projectId, Detail = OrganizationStore.Detail(new { name, prefix = info.Prefix }) },
            cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (info, secret);
    }

    /// <summary>Stores a key whose secret someone else generated (the dev key the AppHost made); a no-op when it exists.</summary>
    public async Task SeedAsync(Guid projectId, string name, string secret, string createdBy, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            INSERT INTO auth.api_keys (id, project_id, name, lookup_prefix, secret_hash, created_by)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (secret_hash) DO NOTHING
            """);
        command.Parameters.Add(new() { Value = Guid.CreateVersion7() });
        command.Parameters.Add(new() { Value = projectId });
        command.Parameters.Add(new() { Value = name });
        command.Parameters.Add(new() { Value = ApiKeySecret.LookupPrefix(secret) });
        command.Parameters.Add(new() { Value = ApiKeySecret.Hash(secret) });
        command.Parameters.Add(new() { Value = createdBy });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(Guid organizationId, Guid? projectId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT {Columns} FROM auth.api_keys k JOIN auth.projects p ON p.id = k.project_id
            WHERE p.organization_id = $1 AND ($2::uuid IS NULL OR k.project_id = $2)
            ORDER BY k.created_at, k.id
            """);
        command.Parameters.Add(new() { Value = organizationId });
        command.Parameters.Add(new() { Value = (object?)projectId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        var keys = new List<ApiKeyInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(Read(reader));
        }

        return keys;
    }

    /// <summary>
    /// Revokes a key of the organization (again: a no-op, and no audit entry, since nothing changed);
    /// null when it has no such key.
    /// </summary>
    public async Task<ApiKeyInfo?> RevokeAsync(Guid organizationId, Guid keyId, AuditEntry audit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        ApiKeyInfo info;
        bool revokedNow;
        await using (var command = new NpgsqlCommand(
            $"""
            UPDATE auth.api_keys k SET revoked_at = coalesce(k.revoked_at, now())
            FROM auth.projects p
            WHERE k.id = $1 AND p.id = k.project_id AND p.organization_id = $2
            RETURNING {Columns}, k.revoked_at = now()
            """,
            connection,
            transaction))
        {
            command.Parameters.Add(new() { Value = keyId });
            command.Parameters.Add(new() { Value = organizationId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            info = Read(reader);
            revokedNow = reader.GetBoolean(8);
        }

        if (revokedNow)
        {
            await auditLog.AppendAsync(connection, transaction, organizationId, audit with { TargetId = keyId.ToString(), ProjectId = info.ProjectId }, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return info;
    }

    /// <summary>The key whose secret is <paramref name="secret"/>, or null.</summary>
    public async Task<StoredApiKey?> FindAsync(string secret, CancellationToken cancellationToken)
    {
        var hash = ApiKeySecret.Hash(secret);
        await using var command = dataSource.CreateCommand(
            """
            SELECT k.id, k.project_id, p.organization_id, k.revoked_at, k.secret_hash, p.content_mode, p.content_patterns
            FROM auth.api_keys k JOIN auth.projects p ON p.id = k.project_id
            WHERE k.lookup_prefix = $1
            """);
        command.Parameters.Add(new() { Value = ApiKeySecret.LookupPrefix(secret) });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (CryptographicOperations.FixedTimeEquals(hash, reader.GetFieldValue<byte[]>(4)))
            {
                return new StoredApiKey(
                    reader.GetGuid(0),
                    reader.GetGuid(1),
                    reader.GetGuid(2),
                    reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3),
                    new ContentPolicy(ContentPolicy.ParseMode(reader.GetString(5)) ?? ContentMode.Store, reader.GetFieldValue<string[]>(6)));
            }
        }

        return null;
    }

    /// <summary>Writes many keys' last use in one statement; never moves a last use backwards.</summary>
    public async Task RecordLastUsedAsync(IReadOnlyCollection<KeyValuePair<Guid, DateTimeOffset>> uses, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            UPDATE auth.api_keys k SET last_used_at = u.used_at
            FROM unnest($1::uuid[], $2::timestamptz[]) AS u (id, used_at)
            WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.used_at)
            """);
        command.Parameters.Add(new() { Value = uses.Select(u => u.Key).ToArray() });
        command.Parameters.Add(new() { Value = uses.Select(u => u.Value).ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static ApiKeyInfo Read(NpgsqlDataReader reader) => new(
        reader.GetGuid(0),
        reader.GetString(1),
        reader.GetGuid(2),
        reader.GetString(3),
        reader.GetString(4),
        reader.GetFieldValue<DateTimeOffset>(5),
        reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6),
        reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7));
}
