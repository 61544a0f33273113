using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Trulayer.ServiceDefaults.Postgres;

namespace Trulayer.ServiceDefaults.Tests;

public sealed class SchemaMigratorTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    private static readonly Migration[] Migrations =
    [
        new(1, "create", "CREATE TABLE {0}.items (id int PRIMARY KEY)"),
        new(2, "seed", "INSERT INTO {0}.items VALUES (1), (2)"),
    ];

    private static Migration[] For(string schema) => [.. Migrations.Select(m => m with { Sql = string.Format(System.Globalization.CultureInfo.InvariantCulture, m.Sql, schema) })];

    private async Task<long> ScalarAsync(string sql)
    {
        await using var command = database.DataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Migrate_Twice_AppliesEachVersionOnce()
    {
        var migrator = new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance);

        await migrator.MigrateAsync("twice", For("twice"));
        await migrator.MigrateAsync("twice", For("twice"));

        Assert.Equal(2, await ScalarAsync("SELECT count(*) FROM twice.items"));
        Assert.Equal(2, await ScalarAsync("SELECT count(*) FROM twice.schema_migrations"));
    }

    [Fact]
    public async Task Migrate_ReplicasAtOnce_TakeTurnsUnderTheLock()
    {
        var replicas = Enumerable.Range(0, 4)
            .Select(_ => new SchemaMigrator(NpgsqlDataSource.Create(database.ConnectionString), NullLogger<SchemaMigrator>.Instance))
            .ToList();

        await Task.WhenAll(replicas.Select(m => m.MigrateAsync("race", For("race"))));

        Assert.Equal(2, await ScalarAsync("SELECT count(*) FROM race.items"));
        Assert.Equal(2, await ScalarAsync("SELECT max(version) FROM race.schema_migrations"));
    }

    [Fact]
    public async Task Migrate_LongerThanTheCommandTimeout_ReplicasWaitAndNoneFails()
    {
        // Connections whose commands time out after 1 s, and a migration of 3 s (as an index rebuilt over a
        // large table takes minutes against the default 30 s): the migration runs to the end, and a second
        // replica waits for the lock that whole time, then finds nothing left to apply.
        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { CommandTimeout = 1 }.ConnectionString;
        Migration[] slow = [new(1, "slow", "CREATE TABLE slow.items (id int PRIMARY KEY); SELECT pg_sleep(3); INSERT INTO slow.items VALUES (1)")];
        await using var first = NpgsqlDataSource.Create(connectionString);
        await using var second = NpgsqlDataSource.Create(connectionString);

        var running = new SchemaMigrator(first, NullLogger<SchemaMigrator>.Instance).MigrateAsync("slow", slow);
        await Task.Delay(500);
        await new SchemaMigrator(second, NullLogger<SchemaMigrator>.Instance).MigrateAsync("slow", slow);
        await running;

        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM slow.items"));
        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM slow.schema_migrations"));
    }

    [Fact]
    public async Task Migrate_FailingScript_LeavesNoPartialVersion()
    {
        var migrator = new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance);
        Migration[] broken = [.. For("broken").Take(1), new(2, "bad", "INSERT INTO broken.items VALUES (1); SELECT no_such_function()")];

        await Assert.ThrowsAsync<PostgresException>(() => migrator.MigrateAsync("broken", broken));

        Assert.Equal(1, await ScalarAsync("SELECT max(version) FROM broken.schema_migrations"));
        Assert.Equal(0, await ScalarAsync("SELECT count(*) FROM broken.items"));
    }
}
