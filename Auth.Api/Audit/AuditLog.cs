using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Trulayer.Auth.Audit;

/// <summary>The chain of an organization could not be appended to in time: nothing of the request happened.</summary>
internal sealed class AuditLogBusyException(Guid organizationId, Exception inner)
    : Exception($"the audit log of organization {organizationId} is busy", inner)
{
    public Guid OrganizationId { get; } = organizationId;
}

/// <summary>What <see cref="AuditLog.ListAsync"/> filters by; all optional.</summary>
internal sealed record AuditQuery(DateTimeOffset? From, DateTimeOffset? To, string? Actor, string? Action, long? Before, int Limit);

/// <summary>Where the chain first fails to verify, and why.</summary>
internal sealed record AuditBreak(long Sequence, Guid? Id, string Reason);

/// <summary>
/// The auth.audit_log table. Appends run inside the caller's transaction (the change and its entry
/// commit together or not at all) and take the organization's transaction-scoped advisory lock first,
/// so replicas append to one organization's chain one at a time and each entry links to the last.
/// </summary>
internal sealed class AuditLog(NpgsqlDataSource dataSource, IOptions<AuthOptions> options)
{
    private const string Columns =
        "organization_id, sequence, id, occurred_at, source, phase, actor_kind, actor_id, actor_role, project_id, action, " +
        "method, route, target_id, detail, status, correlation_id, client_address, previous_hash, hash";

    /// <summary>Appends an entry in a transaction of its own (what the gateway records).</summary>
    public async Task<AuditRecord> AppendAsync(Guid organizationId, AuditEntry entry, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var record = await AppendAsync(connection, transaction, organizationId, entry, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return record;
    }

    /// <summary>
    /// Appends an entry inside <paramref name="transaction"/>, after the change it records. The lock is
    /// held until that transaction ends; waiting longer than Auth:Audit:LockTimeout for it fails the
    /// transaction (<see cref="AuditLogBusyException"/>, answered 503), so the change is undone too.
    /// </summary>
    public async Task<AuditRecord> AppendAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid organizationId, AuditEntry entry, CancellationToken cancellationToken)
    {
        DateTimeOffset occurredAt;
        long sequence;
        byte[] previousHash;
        var timeoutMilliseconds = (long)options.Value.Audit.LockTimeout.TotalMilliseconds;
        await using (var take = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand($"SET LOCAL lock_timeout = {timeoutMilliseconds.ToString(CultureInfo.InvariantCulture)}"),
                new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock($1)") { Parameters = { new() { Value = LockKey(organizationId) } } },
            },
        })
        {
            try
            {
                await take.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                throw new AuditLogBusyException(organizationId, ex);
            }
        }

        // A statement of its own after the lock: under READ COMMITTED it sees the entry the last holder committed.
        await using (var head = new NpgsqlCommand(
            """
            SELECT clock_timestamp(), l.sequence, l.hash
            FROM (SELECT 1) AS one
            LEFT JOIN LATERAL (SELECT sequence, hash FROM auth.audit_log WHERE organization_id = $1 ORDER BY sequence DESC LIMIT 1) AS l ON true
            """,
            connection,
            transaction))
        {
            head.Parameters.Add(new() { Value = organizationId });
            await using var reader = await head.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            occurredAt = reader.GetFieldValue<DateTimeOffset>(0);
            sequence = reader.IsDBNull(1) ? 1 : reader.GetInt64(1) + 1;
            previousHash = reader.IsDBNull(2) ? AuditHash.Genesis : reader.GetFieldValue<byte[]>(2);
        }

        var id = Guid.CreateVersion7(occurredAt);
        var hash = AuditHash.Compute(organizationId, sequence, id, occurredAt, entry, previousHash);
        await using (var insert = new NpgsqlCommand(
            $"INSERT INTO auth.audit_log ({Columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
            connection,
            transaction))
        {
            var p = insert.Parameters;
            p.Add(new() { Value = organizationId });
            p.Add(new() { Value = sequence });
            p.Add(new() { Value = id });
            p.Add(new() { Value = occurredAt });
            p.Add(new() { Value = entry.Source });
            p.Add(new() { Value = entry.Phase });
            p.Add(new() { Value = entry.ActorKind });
            p.Add(new() { Value = entry.ActorId });
            p.Add(Nullable(entry.ActorRole, NpgsqlDbType.Text));
            p.Add(Nullable(entry.ProjectId, NpgsqlDbType.Uuid));
            p.Add(new() { Value = entry.Action });
            p.Add(new() { Value = entry.Method });
            p.Add(new() { Value = entry.Route });
            p.Add(Nullable(entry.TargetId, NpgsqlDbType.Text));
            p.Add(Nullable(entry.Detail, NpgsqlDbType.Text));
            p.Add(Nullable(entry.Status, NpgsqlDbType.Integer));
            p.Add(Nullable(entry.CorrelationId, NpgsqlDbType.Text));
            p.Add(Nullable(entry.ClientAddress, NpgsqlDbType.Text));
            p.Add(new() { Value = previousHash });
            p.Add(new() { Value = hash });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        return new AuditRecord(organizationId, sequence, id, occurredAt, entry, previousHash, hash);
    }

    /// <summary>One page of an organization's entries, newest first (by sequence), <c>Limit + 1</c> at most so the caller knows whether more remain.</summary>
    public async Task<IReadOnlyList<AuditRecord>> ListAsync(Guid organizationId, AuditQuery query, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT {Columns} FROM auth.audit_log
            WHERE organization_id = $1
              AND ($2::timestamptz IS NULL OR occurred_at >= $2)
              AND ($3::timestamptz IS NULL OR occurred_at < $3)
              AND ($4::text IS NULL OR actor_id = $4)
              AND ($5::text IS NULL OR action = $5)
              AND ($6::bigint IS NULL OR sequence < $6)
            ORDER BY sequence DESC
            LIMIT $7
            """);
        command.Parameters.Add(new() { Value = organizationId });
        command.Parameters.Add(Nullable(query.From, NpgsqlDbType.TimestampTz));
        command.Parameters.Add(Nullable(query.To, NpgsqlDbType.TimestampTz));
        command.Parameters.Add(Nullable(query.Actor, NpgsqlDbType.Text));
        command.Parameters.Add(Nullable(query.Action, NpgsqlDbType.Text));
        command.Parameters.Add(Nullable(query.Before, NpgsqlDbType.Bigint));
        command.Parameters.Add(new() { Value = query.Limit + 1 });
        var records = new List<AuditRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            records.Add(Read(reader));
        }

        return records;
    }

    /// <summary>
    /// Recomputes an organization's chain from its first entry: every sequence number in turn from 1,
    /// every previous hash the hash of the entry before, every hash that of its own content. Returns the
    /// number of entries checked, the last one, and the first that fails (null when none does).
    /// </summary>
    public async Task<(long Entries, AuditRecord? Head, AuditBreak? Break)> VerifyAsync(Guid organizationId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // One snapshot for the whole walk, so entries appended meanwhile cannot make it see half a chain.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        await using var command = new NpgsqlCommand($"SELECT {Columns} FROM auth.audit_log WHERE organization_id = $1 ORDER BY sequence", connection, transaction);
        command.Parameters.Add(new() { Value = organizationId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        long count = 0;
        AuditRecord? previous = null;
        while (await reader.ReadAsync(cancellationToken))
        {
            var record = Read(reader);
            count++;
            var expectedSequence = (previous?.Sequence ?? 0) + 1;
            if (record.Sequence != expectedSequence)
            {
                return (count, previous, new AuditBreak(expectedSequence, null,
                    $"entry {expectedSequence} is missing: the entry after {expectedSequence - 1} is {record.Sequence}"));
            }

            if (!record.PreviousHash.AsSpan().SequenceEqual(previous?.Hash ?? AuditHash.Genesis))
            {
                return (count, previous, new AuditBreak(record.Sequence, record.Id,
                    record.Sequence == 1 ? "its previous hash is not the chain's start (32 zero bytes)" : $"its previous hash is not the hash of entry {record.Sequence - 1}"));
            }

            if (!CryptographicOperations.FixedTimeEquals(AuditHash.Compute(record), record.Hash))
            {
                return (count, previous, new AuditBreak(record.Sequence, record.Id, "its hash does not match its content: the entry was altered after it was written"));
            }

            previous = record;
        }

        return (count, previous, null);
    }

    /// <summary>A stable 64-bit advisory lock key per organization.</summary>
    internal static long LockKey(Guid organizationId)
        => BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes("trulayer.audit." + organizationId.ToString("D"))));

    private static NpgsqlParameter Nullable<T>(T? value, NpgsqlDbType type) where T : struct
        => new() { Value = value.HasValue ? value.Value : DBNull.Value, NpgsqlDbType = type };

    private static NpgsqlParameter Nullable(string? value, NpgsqlDbType type)
        => new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = type };

    private static AuditRecord Read(NpgsqlDataReader reader) => new(
        reader.GetGuid(0),
        reader.GetInt64(1),
        reader.GetGuid(2),
        reader.GetFieldValue<DateTimeOffset>(3),
        new AuditEntry(
            reader.GetString(4),
            reader.GetString(5),
            reader.GetString(6),
            reader.GetString(7),
            NullableString(reader, 8),
            reader.IsDBNull(9) ? null : reader.GetGuid(9),
            reader.GetString(10),
            reader.GetString(11),
            reader.GetString(12),
            NullableString(reader, 13),
            NullableString(reader, 14),
            reader.IsDBNull(15) ? null : reader.GetInt32(15),
            NullableString(reader, 16),
            NullableString(reader, 17)),
        reader.GetFieldValue<byte[]>(18),
        reader.GetFieldValue<byte[]>(19));

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
