using System.Security.Cryptography;
using Trulayer.AppHost.Run;

namespace Trulayer.Testing;

/// <summary>
/// One real PostgreSQL cluster per test assembly (each test project runs in its own process), started
/// on first use with the AppHost's own <see cref="PostgresCluster"/> and thrown away at process exit.
/// Test classes get a database each through <see cref="DatabaseFixture"/>.
/// </summary>
public static class SharedPostgres
{
    private static readonly Lazy<Task<PostgresCluster>> Cluster = new(StartAsync);

    public static Task<PostgresCluster> GetAsync() => Cluster.Value;

    private static async Task<PostgresCluster> StartAsync()
    {
        var directory = TestDirectories.Create("pg");
        var cluster = await PostgresCluster.StartAsync(
            new PostgresClusterOptions
            {
                DataDirectory = Path.Combine(directory, "data"),
                Password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)),
                Durable = false,
            },
            _ => { });
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            cluster.KillAsync().GetAwaiter().GetResult();
            TestDirectories.TryDelete(directory);
        };
        return cluster;
    }
}
