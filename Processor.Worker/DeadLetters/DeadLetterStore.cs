using System.Text;
using Npgsql;
using NpgsqlTypes;
using Trulayer.Processor.Pipeline;

namespace Trulayer.Processor.DeadLetters;

/// <summary>A dead letter as telemetry.dead_letters keeps it; <see cref="Value"/> only when asked for.</summary>
internal sealed record DeadLetterEntry(
    Guid Id,
    string Signal,
    string? Key,
    Guid? ProjectId,
    Guid? OrganizationId,
    string Topic,
    int Partition,
    long Offset,
    string Stage,
    string Reason,
    DateTime FailedAt,
    int? ItemCount,
    int Size,
    string Status,
    DateTime? ResolvedAt,
    string? ResolvedBy,
    int ReplayAttempts,
    DateTime? LastReplayAt,
    string? LastReplayOutcome,
    byte[]? KeyBytes = null,
    byte[]? Value = null);

/// <summary>Whose dead letters a caller sees: its organization's, and (records written before ingest stamped organizations) its projects'.</summary>
internal sealed record DeadLetterScope(Guid OrganizationId, IReadOnlyList<Guid> ProjectIds);

/// <summary>One page of the list: newest first, after the (failed_at, id) of <paramref name="After"/> when paging.</summary>
internal sealed record DeadLetterQuery(DeadLetterScope Scope, Guid? ProjectId, DateTime? From, DateTime? To, int Limit, (DateTime FailedAt, Guid Id)? After);

/// <summary>What one replay did: stored the record's rows (how many were new), or failed again and why.</summary>
internal sealed record ReplayOutcome(bool Stored, string Description);

/// <summary>
/// telemetry.dead_letters: every record the processor dead-letters, written by the batch handler before the
/// record's offset is committed (so none is lost) and at most once per record (a redelivery of the same
/// record at the same offset is the same row), and read, replayed and discarded by the API.
/// </summary>
internal sealed class DeadLetterStore(NpgsqlDataSource dataSource)
{
    public const string Open = "open", Replayed = "replayed", Discarded = "discarded";

    private const string Columns = """
        id, signal, record_key, project_id, organization_id, source_topic, source_partition, source_offset, stage, reason,
        failed_at, item_count, coalesce(length(value), 0), status, resolved_at, resolved_by, replay_attempts, last_replay_at, last_replay_outcome
        """;

    private const string InScope = "(organization_id = @organization OR (organization_id IS NULL AND project_id = ANY(@projects)))";

    /// <summary>Keeps <paramref name="letters"/> of <paramref name="signal"/> in one transaction; a letter already kept is skipped.</summary>
    public void Record(string signal, IReadOnlyList<DeadLetter> letters)
    {
        using var connection = dataSource.OpenConnection();
        using var transaction = connection.BeginTransaction();
        foreach (var letter in letters)
        {
            var source = letter.Source;
            var facts = DeadLetterFacts.Read(source.Message.Key, source.Message.Value);
            using var command = new NpgsqlCommand("""
                INSERT INTO telemetry.dead_letters (id, signal, record_key, project_id, organization_id, source_topic, source_partition,
                    source_offset, record_hash, stage, reason, failed_at, item_count, value)
                VALUES (@id, @signal, @key, @project, @organization, @topic, @partition, @offset, @hash, @stage, @reason, now(), @count, @value)
                ON CONFLICT (source_topic, source_partition, source_offset, record_hash) DO NOTHING
                """, connection, transaction);
            command.Parameters.AddWithValue("id", Guid.CreateVersion7());
            command.Parameters.AddWithValue("signal", signal);
            command.Parameters.Add(new NpgsqlParameter("key", NpgsqlDbType.Bytea) { Value = (object?)source.Message.Key ?? DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter("project", NpgsqlDbType.Uuid) { Value = (object?)facts.ProjectId ?? DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter("organization", NpgsqlDbType.Uuid) { Value = (object?)facts.OrganizationId ?? DBNull.Value });
            command.Parameters.AddWithValue("topic", source.Topic);
            command.Parameters.AddWithValue("partition", source.Partition.Value);
            command.Parameters.AddWithValue("offset", source.Offset.Value);
            command.Parameters.AddWithValue("hash", facts.RecordHash);
            command.Parameters.AddWithValue("stage", StageName(letter.Stage));
            command.Parameters.AddWithValue("reason", letter.Reason.Replace("\0", "", StringComparison.Ordinal));
            command.Parameters.Add(new NpgsqlParameter("count", NpgsqlDbType.Integer) { Value = (object?)facts.ItemCount ?? DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter("value", NpgsqlDbType.Bytea) { Value = (object?)source.Message.Value ?? DBNull.Value });
            command.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    public static string StageName(DeadLetterStage stage) => stage == DeadLetterStage.Decode ? "decode" : "database";

    public async Task<List<DeadLetterEntry>> ListAsync(DeadLetterQuery query, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder($"SELECT {Columns} FROM telemetry.dead_letters WHERE {InScope}");
        await using var command = dataSource.CreateCommand();
        AddScope(command, query.Scope);
        if (query.ProjectId is { } project)
        {
            sql.Append(" AND project_id = @project");
            command.Parameters.AddWithValue("project", project);
        }

        if (query.From is { } from)
        {
            sql.Append(" AND failed_at >= @from");
            command.Parameters.AddWithValue("from", from);
        }

        if (query.To is { } to)
        {
            sql.Append(" AND failed_at < @to");
            command.Parameters.AddWithValue("to", to);
        }

        if (query.After is { } after)
        {
            sql.Append(" AND (failed_at, id) < (@afterAt, @afterId)");
            command.Parameters.AddWithValue("afterAt", after.FailedAt);
            command.Parameters.AddWithValue("afterId", after.Id);
        }

        sql.Append(" ORDER BY failed_at DESC, id DESC LIMIT @limit");
        command.Parameters.AddWithValue("limit", query.Limit);
        command.CommandText = sql.ToString();
        var entries = new List<DeadLetterEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(ReadEntry(reader));
        }

        return entries;
    }

    /// <summary>One dead letter of the caller's scope with its bytes, or null.</summary>
    public async Task<DeadLetterEntry?> FindAsync(DeadLetterScope scope, Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await SelectAsync(connection, null, scope, id, cancellationToken);
    }

    /// <summary>
    /// Marks an open dead letter resolved without storing it. Null: not in the scope; an entry whose
    /// status is not <see cref="Discarded"/> afterwards was resolved before (by a replay).
    /// </summary>
    public async Task<(DeadLetterEntry? Entry, bool Changed)> DiscardAsync(DeadLetterScope scope, Guid id, string? actor, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var entry = await SelectAsync(connection, transaction, scope, id, cancellationToken);
        if (entry is null || entry.Status != Open)
        {
            return (entry, false);
        }

        await using (var command = new NpgsqlCommand(
            "UPDATE telemetry.dead_letters SET status = @status, resolved_at = now(), resolved_by = @actor WHERE id = @id", connection, transaction))
        {
            command.Parameters.AddWithValue("status", Discarded);
            command.Parameters.Add(new NpgsqlParameter("actor", NpgsqlDbType.Text) { Value = (object?)actor ?? DBNull.Value });
            command.Parameters.AddWithValue("id", id);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        var changed = await ReloadAsync(connection, transaction, id, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (changed, true);
    }

    /// <summary>
    /// Replays an open dead letter with <paramref name="replay"/> while holding its row, so replicas never
    /// replay one entry at once, and records the outcome: resolved when stored, still open when it failed again.
    /// </summary>
    public async Task<(DeadLetterEntry? Entry, bool Replayed)> ReplayAsync(
        DeadLetterScope scope, Guid id, string? actor, Func<DeadLetterEntry, ReplayOutcome> replay, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var entry = await SelectAsync(connection, transaction, scope, id, cancellationToken);
        if (entry is null || entry.Status != Open)
        {
            return (entry, false);
        }

        var outcome = replay(entry);
        await using (var command = new NpgsqlCommand("""
            UPDATE telemetry.dead_letters
               SET replay_attempts = replay_attempts + 1, last_replay_at = now(), last_replay_outcome = @outcome,
                   status = CASE WHEN @stored THEN 'replayed' ELSE status END,
                   resolved_at = CASE WHEN @stored THEN now() ELSE resolved_at END,
                   resolved_by = CASE WHEN @stored THEN @actor ELSE resolved_by END
             WHERE id = @id
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("outcome", outcome.Description.Replace("\0", "", StringComparison.Ordinal));
            command.Parameters.AddWithValue("stored", outcome.Stored);
            command.Parameters.Add(new NpgsqlParameter("actor", NpgsqlDbType.Text) { Value = (object?)actor ?? DBNull.Value });
            command.Parameters.AddWithValue("id", id);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        var updated = await ReloadAsync(connection, transaction, id, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (updated, true);
    }

    /// <summary>The entry with its bytes; in a transaction, locked until it ends.</summary>
    private static async Task<DeadLetterEntry?> SelectAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, DeadLetterScope scope, Guid id, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"SELECT {Columns}, record_key, value FROM telemetry.dead_letters WHERE id = @id AND {InScope}{(transaction is null ? "" : " FOR UPDATE")}", connection, transaction);
        command.Parameters.AddWithValue("id", id);
        AddScope(command, scope);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadEntry(reader, withValue: true) : null;
    }

    private static async Task<DeadLetterEntry?> ReloadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid id, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT {Columns} FROM telemetry.dead_letters WHERE id = @id", connection, transaction);
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadEntry(reader) : null;
    }

    private static void AddScope(NpgsqlCommand command, DeadLetterScope scope)
    {
        command.Parameters.AddWithValue("organization", scope.OrganizationId);
        command.Parameters.AddWithValue("projects", scope.ProjectIds.ToArray());
    }

    private static DeadLetterEntry ReadEntry(NpgsqlDataReader reader, bool withValue = false)
    {
        T? Nullable<T>(int ordinal) where T : struct => reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<T>(ordinal);
        string? Text(int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
        var key = reader.IsDBNull(2) ? null : reader.GetFieldValue<byte[]>(2);
        return new DeadLetterEntry(
            reader.GetGuid(0), reader.GetString(1), key is null ? null : Encoding.UTF8.GetString(key),
            Nullable<Guid>(3), Nullable<Guid>(4), reader.GetString(5), reader.GetInt32(6), reader.GetInt64(7),
            reader.GetString(8), reader.GetString(9), reader.GetDateTime(10), Nullable<int>(11), reader.GetInt32(12),
            reader.GetString(13), Nullable<DateTime>(14), Text(15), reader.GetInt32(16), Nullable<DateTime>(17), Text(18),
            withValue ? key : null,
            withValue && !reader.IsDBNull(20) ? reader.GetFieldValue<byte[]>(20) : null);
    }
}
