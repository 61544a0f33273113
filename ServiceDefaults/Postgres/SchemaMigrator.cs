using System.Diagnostics;
using System.Reflection;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Trulayer.ServiceDefaults.Postgres;

/// <summary>One versioned SQL script of a schema.</summary>
public sealed record Migration(int Version, string Name, string Sql)
{
    /// <summary>
    /// The scripts embedded in <paramref name="assembly"/> under a "Migrations" folder, named
    /// <c>NNNN_description.sql</c>, in version order.
    /// </summary>
    public static IReadOnlyList<Migration> FromEmbeddedResources(Assembly assembly)
    {
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.Contains(".Migrations.", StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal)))
        {
            var fileName = resource[(resource.IndexOf(".Migrations.", StringComparison.Ordinal) + ".Migrations.".Length)..^".sql".Length];
            var underscore = fileName.IndexOf('_', StringComparison.Ordinal);
            if (underscore <= 0 || !int.TryParse(fileName[..underscore], System.Globalization.CultureInfo.InvariantCulture, out var version))
            {
                throw new InvalidOperationException($"migration {resource} is not named NNNN_description.sql");
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            migrations.Add(new Migration(version, fileName[(underscore + 1)..], reader.ReadToEnd()));
        }

        var duplicate = migrations.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException($"two migrations have version {duplicate.Key}");
        }

        return [.. migrations.OrderBy(m => m.Version)];
    }
}

/// <summary>
/// Applies a schema's migrations at start. Each service owns one schema and is its only migrator; an
/// advisory lock per schema makes replicas that start together take turns, and the applied versions
/// are recorded in <c>&lt;schema&gt;.schema_migrations</c>, so running again is a no-op.
/// </summary>
public sealed partial class SchemaMigrator(NpgsqlDataSource dataSource, ILogger<SchemaMigrator> logger)
{
    public async Task MigrateAsync(string schema, IReadOnlyList<Migration> migrations, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var lockKey = LockKey(schema);
        await using (var tryLock = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", connection) { Parameters = { new() { Value = lockKey } } })
        {
            if (!(bool)(await tryLock.ExecuteScalarAsync(cancellationToken))!)
            {
                // Another replica is migrating, which may take minutes (an index rebuilt over every row):
                // wait for it without a time limit, as the migration itself runs.
                Log.WaitingForReplica(logger, schema);
                await ExecuteAsync(connection, "SELECT pg_advisory_lock($1)", cancellationToken, lockKey);
            }
        }

        try
        {
            await ExecuteAsync(connection,
                $"""
                CREATE SCHEMA IF NOT EXISTS {schema};
                CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now());
                """,
                cancellationToken);

            var applied = new HashSet<int>();
            await using (var command = new NpgsqlCommand($"SELECT version FROM {schema}.schema_migrations", connection))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    applied.Add(reader.GetInt32(0));
                }
            }

            var pending = migrations.Where(m => !applied.Contains(m.Version)).ToList();
            foreach (var migration in pending)
            {
                Log.Applying(logger, schema, migration.Version, migration.Name);
                var started = Stopwatch.GetTimestamp();
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                // No time limit: a migration that rebuilds an index or rewrites a column reads every row,
                // which on a large database takes longer than a command's default 30 s; stopping it halfway
                // would only roll it back and stop the service at every start.
                await using (var command = new NpgsqlCommand(migration.Sql, connection, transaction) { CommandTimeout = 0 })
                {
                    await command.ExecuteNonQueryAsync(cancellationToken);
                }

                await using (var record = new NpgsqlCommand($"INSERT INTO {schema}.schema_migrations (version, name) VALUES ($1, $2)", connection, transaction))
                {
                    record.Parameters.Add(new() { Value = migration.Version });
                    record.Parameters.Add(new() { Value = migration.Name });
                    await record.ExecuteNonQueryAsync(cancellationToken);
                }

                await transaction.CommitAsync(cancellationToken);
                Log.Applied(logger, schema, migration.Version, migration.Name, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }

            Log.UpToDate(logger, schema, migrations.Count == 0 ? 0 : migrations[^1].Version, pending.Count);
        }
        finally
        {
            await ExecuteAsync(connection, "SELECT pg_advisory_unlock($1)", CancellationToken.None, lockKey);
        }
    }

    /// <summary>A stable 64-bit advisory lock key per schema name.</summary>
    private static long LockKey(string schema)
        => BitConverter.ToInt64(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes("trulayer.migrate." + schema)));

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Schema {Schema}: applied migration {Version} {Name} in {ElapsedMs} ms")]
        public static partial void Applied(ILogger logger, string schema, int version, string name, long elapsedMs);

        [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "Schema {Schema}: another replica is applying its migrations; waiting for it")]
        public static partial void WaitingForReplica(ILogger logger, string schema);

        [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "Schema {Schema}: applying migration {Version} {Name} (one that rebuilds an index reads every stored row: the service starts when it is done)")]
        public static partial void Applying(ILogger logger, string schema, int version, string name);

        [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Schema {Schema} is at version {Version} ({Pending} migration(s) applied now)")]
        public static partial void UpToDate(ILogger logger, string schema, int version, int pending);

        [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "Schema {Schema}: PostgreSQL is not reachable yet ({Error}); retrying in {Delay}")]
        public static partial void Retrying(ILogger logger, string schema, string error, TimeSpan delay);
    }

    /// <summary>Runs the migration before the service starts listening, retrying while PostgreSQL is not up yet.</summary>
    internal sealed class StartupMigration(SchemaMigrator migrator, string schema, IReadOnlyList<Migration> migrations, ILogger<SchemaMigrator> logger) : IHostedService
    {
        private static readonly TimeSpan GiveUpAfter = TimeSpan.FromSeconds(60);

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var deadline = DateTime.UtcNow + GiveUpAfter;
            var delay = TimeSpan.FromMilliseconds(500);
            while (true)
            {
                try
                {
                    await migrator.MigrateAsync(schema, migrations, cancellationToken);
                    return;
                }
                catch (NpgsqlException ex) when (ex.IsTransient && DateTime.UtcNow + delay < deadline)
                {
                    Log.Retrying(logger, schema, ex.Message, delay);
                    await Task.Delay(delay, cancellationToken);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

public static class SchemaMigrationExtensions
{
    /// <summary>
    /// Migrates <paramref name="schema"/> with the scripts embedded in <paramref name="assembly"/>
    /// (Migrations/NNNN_name.sql) when the service starts, before it listens. Needs AddTrulayerNpgsql.
    /// </summary>
    public static IHostApplicationBuilder AddSchemaMigrations(this IHostApplicationBuilder builder, string schema, Assembly assembly)
    {
        var migrations = Migration.FromEmbeddedResources(assembly);
        builder.Services.AddSingleton<SchemaMigrator>();
        builder.Services.AddHostedService(services => ActivatorUtilities.CreateInstance<SchemaMigrator.StartupMigration>(services, schema, migrations));
        return builder;
    }
}
