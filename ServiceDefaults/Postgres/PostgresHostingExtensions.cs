using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Npgsql;
using Trulayer.ServiceDefaults.Postgres;

namespace Microsoft.Extensions.Hosting;

public static class PostgresHostingExtensions
{
    public const string ConnectionStringName = "trulayer";

    /// <summary>
    /// Registers one <see cref="NpgsqlDataSource"/> from ConnectionStrings:trulayer and a "postgres"
    /// health check for /health. A missing connection string fails the start with a message naming the key.
    /// </summary>
    public static IHostApplicationBuilder AddTrulayerNpgsql(this IHostApplicationBuilder builder, Action<NpgsqlDataSourceBuilder>? configure = null)
    {
        var connectionString = builder.Configuration.GetConnectionString(ConnectionStringName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                $"ConnectionStrings:{ConnectionStringName} is missing: set it to the PostgreSQL connection string, " +
                $"e.g. ConnectionStrings__{ConnectionStringName}=\"Host=127.0.0.1;Port=5432;Username=trulayer;Password=...;Database=trulayer\".");
        }

        builder.Services.AddSingleton(services =>
        {
            var dataSourceBuilder = new NpgsqlDataSourceBuilder(connectionString);
            dataSourceBuilder.UseLoggerFactory(services.GetRequiredService<ILoggerFactory>());
            configure?.Invoke(dataSourceBuilder);
            return dataSourceBuilder.Build();
        });
        builder.Services.AddHealthChecks().AddCheck<PostgresHealthCheck>("postgres", tags: ["ready"]);
        builder.Services.AddTransient<IStartupFilter, DatabaseOutageMiddleware.StartupFilter>();
        return builder;
    }
}

internal sealed class PostgresHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(timeout.Token);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            var builder = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
            return HealthCheckResult.Unhealthy($"PostgreSQL at {builder.Host}:{builder.Port} is unreachable: {ex.Message}");
        }
    }
}
