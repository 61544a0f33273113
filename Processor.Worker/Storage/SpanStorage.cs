using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Trulayer.Processor.Storage;

/// <summary>How telemetry.spans (and telemetry.logs) is partitioned.</summary>
public enum StorageMode
{
    /// <summary>Native range partitions by day, created by the processor as batches need them.</summary>
    Partitioned,

    /// <summary>A TimescaleDB hypertable: chunks by day, compression after 7 days.</summary>
    Timescale,
}

/// <summary>
/// What the processor knows of the telemetry schema's layout: which <see cref="StorageMode"/> the
/// migration chose, and (partitioned) which day partitions exist; creates missing ones and applies
/// retention. Both modes take the same rows and answer the same queries. telemetry.logs is laid out the
/// same way (migration 0004), in its own mode: a hypertable where TimescaleDB was there when it was created.
/// </summary>
internal sealed partial class SpanStorage(NpgsqlDataSource dataSource, IOptions<TelemetryOptions> telemetryOptions, ILogger<SpanStorage> logger)
{
    /// <summary>The partitioned tables: telemetry.spans and telemetry.logs.</summary>
    public const string Spans = "spans", Logs = "logs";

    private readonly ConcurrentDictionary<(string Table, DateOnly Day), bool> _days = new();
    private readonly Lock _initializeLock = new();
    private StorageMode? _mode;
    private StorageMode? _logsMode;

    public StorageMode Mode => _mode ?? throw new InvalidOperationException("the storage has not been initialized");

    public StorageMode LogsMode => _logsMode ?? throw new InvalidOperationException("the storage has not been initialized");

    public bool IsInitialized => _mode is not null;

    /// <summary>Reads the layout, logs it, and (TimescaleDB) applies the configured retention policy.</summary>
    public void Initialize()
    {
        lock (_initializeLock)
        {
            using var connection = dataSource.OpenConnection();
            using (var command = new NpgsqlCommand("SELECT relkind = 'p' FROM pg_class WHERE oid = 'telemetry.spans'::regclass", connection))
            {
                _mode = (bool)command.ExecuteScalar()! ? StorageMode.Partitioned : StorageMode.Timescale;
            }

            using (var command = new NpgsqlCommand("SELECT relkind = 'p' FROM pg_class WHERE oid = 'telemetry.logs'::regclass", connection))
            {
                _logsMode = (bool)command.ExecuteScalar()! ? StorageMode.Partitioned : StorageMode.Timescale;
            }

            if (_logsMode == StorageMode.Timescale)
            {
                using var command = new NpgsqlCommand("SELECT remove_retention_policy('telemetry.logs', if_exists => true)", connection);
                command.ExecuteNonQuery();
                if (telemetryOptions.Value.RetentionDays is { } logDays)
                {
                    using var add = new NpgsqlCommand("SELECT add_retention_policy('telemetry.logs', drop_after => make_interval(days => $1))", connection);
                    add.Parameters.Add(new NpgsqlParameter { Value = logDays });
                    add.ExecuteNonQuery();
                }
            }

            var retentionDays = telemetryOptions.Value.RetentionDays;
            LoadPartitions(connection);
            if (_mode == StorageMode.Partitioned)
            {
                Log.Partitioned(logger, _days.Count, retentionDays?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "off", WhyNotTimescale(connection));
                return;
            }

            using (var command = new NpgsqlCommand("SELECT remove_retention_policy('telemetry.spans', if_exists => true)", connection))
            {
                command.ExecuteNonQuery();
            }

            if (retentionDays is { } days)
            {
                using var command = new NpgsqlCommand("SELECT add_retention_policy('telemetry.spans', drop_after => make_interval(days => $1))", connection);
                command.Parameters.Add(new NpgsqlParameter { Value = days });
                command.ExecuteNonQuery();
            }

            Log.Timescale(logger, retentionDays?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "off");
        }
    }

    /// <summary>
    /// Why the spans are in native partitions, and how to get a hypertable: the migration uses TimescaleDB
    /// only when the server has it installed and preloaded (0001_telemetry.sql), and a layout, once
    /// created, stays.
    /// </summary>
    private static string WhyNotTimescale(NpgsqlConnection connection)
    {
        using var command = new NpgsqlCommand(
            """
            SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),
                   EXISTS (SELECT 1 FROM unnest(string_to_array(current_setting('shared_preload_libraries'), ',')) AS library(name)
                           WHERE regexp_replace(btrim(library.name, ' "'), '^.*/', '') LIKE 'timescaledb%')
            """,
            connection);
        using var reader = command.ExecuteReader();
        reader.Read();
        var (installed, preloaded) = (reader.GetBoolean(0), reader.GetBoolean(1));
        return (installed, preloaded) switch
        {
            (false, _) => "TimescaleDB is not installed on this PostgreSQL server",
            (true, false) => "TimescaleDB is installed but not in shared_preload_libraries: to use it, add 'timescaledb' there "
                             + "(timescaledb-tune does) and restart PostgreSQL; a database created after that gets a hypertable",
            (true, true) => "this database was created before TimescaleDB was enabled on the server, and keeps its layout; "
                            + "a database created now gets a hypertable",
        };
    }

    /// <summary>Creates the day partitions of telemetry.spans among <paramref name="days"/> that do not exist yet (partitioned mode).</summary>
    public void EnsurePartitions(IReadOnlyCollection<DateOnly> days) => EnsurePartitions(Spans, days);

    /// <summary>Creates the day partitions of <paramref name="table"/> (<see cref="Spans"/> or <see cref="Logs"/>) among <paramref name="days"/> that do not exist yet.</summary>
    public void EnsurePartitions(string table, IReadOnlyCollection<DateOnly> days)
    {
        if ((table == Logs ? LogsMode : Mode) != StorageMode.Partitioned)
        {
            return;
        }

        var missing = days.Where(d => !_days.ContainsKey((table, d))).Distinct().ToArray();
        if (missing.Length == 0)
        {
            return;
        }

        using var connection = dataSource.OpenConnection();
        using var transaction = connection.BeginTransaction();
        using var command = new NpgsqlCommand("SELECT telemetry.ensure_day_partitions($1, $2)", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = table, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = missing, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Date });
        var created = (int)command.ExecuteScalar()!;
        transaction.Commit();
        foreach (var day in missing)
        {
            _days[(table, day)] = true;
        }

        if (created > 0)
        {
            Log.PartitionsCreated(logger, created, table, string.Join(", ", missing.Order().Select(d => d.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture))));
        }
    }

    /// <summary>Forgets the known partitions (another processor's retention may have dropped some) and reloads them.</summary>
    public void ReloadPartitions()
    {
        using var connection = dataSource.OpenConnection();
        LoadPartitions(connection);
    }

    /// <summary>
    /// Drops what is older than Telemetry:RetentionDays: day partitions (partitioned mode; TimescaleDB's
    /// policy drops chunks itself), traces whose last span ended before the cutoff, sessions whose last
    /// activity did, and usage rollup buckets before it.
    /// </summary>
    public async Task ApplyRetentionAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (telemetryOptions.Value.RetentionDays is not { } days)
        {
            return;
        }

        var cutoff = now.UtcDateTime.Date.AddDays(-days);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var partitions = 0;
        foreach (var (table, mode) in new[] { (Spans, Mode), (Logs, LogsMode) })
        {
            if (mode != StorageMode.Partitioned)
            {
                continue;
            }

            await using var drop = new NpgsqlCommand("SELECT telemetry.drop_day_partitions_before($1, $2)", connection);
            drop.Parameters.Add(new NpgsqlParameter { Value = table, NpgsqlDbType = NpgsqlDbType.Text });
            drop.Parameters.Add(new NpgsqlParameter { Value = DateOnly.FromDateTime(cutoff), NpgsqlDbType = NpgsqlDbType.Date });
            partitions += (int)(await drop.ExecuteScalarAsync(cancellationToken))!;
            foreach (var key in _days.Keys.Where(k => k.Table == table && k.Day < DateOnly.FromDateTime(cutoff)))
            {
                _days.TryRemove(key, out _);
            }
        }

        await using var traces = new NpgsqlCommand("DELETE FROM telemetry.traces WHERE start_time < $1 AND end_unix_nano < $2", connection);
        traces.Parameters.Add(new NpgsqlParameter { Value = cutoff, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        traces.Parameters.Add(new NpgsqlParameter { Value = (cutoff - DateTime.UnixEpoch).Ticks * 100 });
        var deleted = await traces.ExecuteNonQueryAsync(cancellationToken);

        // What is kept beside the spans goes with them: sessions whose last activity is older, and usage buckets.
        await using (var aggregates = new NpgsqlBatch(connection))
        {
            aggregates.BatchCommands.Add(new NpgsqlBatchCommand("DELETE FROM telemetry.sessions WHERE last_unix_nano < $1")
            {
                Parameters = { new NpgsqlParameter { Value = (cutoff - DateTime.UnixEpoch).Ticks * 100 } },
            });
            foreach (var rollup in new[] { "llm_usage_minute", "llm_usage_hour", "llm_usage_hour_model" })
            {
                aggregates.BatchCommands.Add(new NpgsqlBatchCommand($"DELETE FROM telemetry.{rollup} WHERE bucket < $1")
                {
                    Parameters = { new NpgsqlParameter { Value = cutoff, NpgsqlDbType = NpgsqlDbType.TimestampTz } },
                });
            }

            await aggregates.ExecuteNonQueryAsync(cancellationToken);
        }

        Log.Retention(logger, days, cutoff, partitions, deleted);
    }

    private void LoadPartitions(NpgsqlConnection connection)
    {
        _days.Clear();
        using var command = new NpgsqlCommand(
            "SELECT t, d FROM unnest(ARRAY[$1, $2]) AS t, telemetry.day_partitions(t) AS d", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = Spans, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = Logs, NpgsqlDbType = NpgsqlDbType.Text });
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            _days[(reader.GetString(0) == Logs ? Logs : Spans, reader.GetFieldValue<DateOnly>(1))] = true;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1100, Level = LogLevel.Information,
            Message = "Span storage: native PostgreSQL range partitions by day, created on demand ({Count} exist); retention {RetentionDays} days. Not TimescaleDB: {WhyNotTimescale}")]
        public static partial void Partitioned(ILogger logger, int count, string retentionDays, string whyNotTimescale);

        [LoggerMessage(EventId = 1101, Level = LogLevel.Information,
            Message = "Span storage: TimescaleDB hypertable (1-day chunks, compressed after 7 days); retention {RetentionDays} days")]
        public static partial void Timescale(ILogger logger, string retentionDays);

        [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Created {Count} partition(s) of telemetry.{Table} for {Days}")]
        public static partial void PartitionsCreated(ILogger logger, int count, string table, string days);

        [LoggerMessage(EventId = 1103, Level = LogLevel.Information,
            Message = "Retention ({Days} days, cutoff {Cutoff:yyyy-MM-dd}): dropped {Partitions} span and log partition(s) and {Traces} trace row(s)")]
        public static partial void Retention(ILogger logger, int days, DateTime cutoff, int partitions, int traces);
    }
}
