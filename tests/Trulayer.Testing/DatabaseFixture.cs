using Npgsql;

namespace Trulayer.Testing;

/// <summary>A fresh database on the assembly's PostgreSQL cluster, for one test class.</summary>
public sealed class DatabaseFixture : IAsyncLifetime
{
    private NpgsqlDataSource? _dataSource;

    public string ConnectionString { get; private set; } = "";

    public string DatabaseName { get; private set; } = "";

    public NpgsqlDataSource DataSource => _dataSource ?? throw new InvalidOperationException("the fixture has not started");

    public async Task InitializeAsync()
    {
        var cluster = await SharedPostgres.GetAsync();
        DatabaseName = "test_" + Guid.NewGuid().ToString("N")[..16];
        await cluster.CreateDatabaseIfMissingAsync(DatabaseName);
        ConnectionString = cluster.GetConnectionString(DatabaseName);
        _dataSource = NpgsqlDataSource.Create(ConnectionString);
    }

    public async Task DisposeAsync()
    {
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }
    }
}
