using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.ServiceDefaults.Tests;

/// <summary>AddServiceDefaults and friends in a real host (TestServer), against the real PostgreSQL and broker.</summary>
public sealed class ServiceHostTests(DatabaseFixture database, KafkaFixture kafka) : IClassFixture<DatabaseFixture>, IClassFixture<KafkaFixture>
{
    private static async Task<WebApplication> StartAsync(Dictionary<string, string?> settings, Action<WebApplicationBuilder> configure, Action<WebApplication>? map = null)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServiceDefaults();
        configure(builder);
        var app = builder.Build();
        app.MapDefaultEndpoints();
        map?.Invoke(app);
        await app.StartAsync();
        return app;
    }

    private static async Task<JsonElement> GetJsonAsync(HttpClient client, string path, HttpStatusCode expected)
    {
        using var response = await client.GetAsync(path);
        Assert.Equal(expected, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Health_WithPostgresAndKafka_ReportsEachCheck()
    {
        await using var app = await StartAsync(
            new() { ["ConnectionStrings:trulayer"] = database.ConnectionString, ["ConnectionStrings:kafka"] = kafka.BootstrapServers },
            builder =>
            {
                builder.AddTrulayerNpgsql();
                builder.AddTrulayerKafka();
            });
        var client = app.GetTestClient();

        var health = await GetJsonAsync(client, "/health", HttpStatusCode.OK);
        Assert.Equal("Healthy", health.GetProperty("status").GetString());
        Assert.Equal("Healthy", health.GetProperty("checks").GetProperty("postgres").GetProperty("status").GetString());
        Assert.Contains("8 partitions", health.GetProperty("checks").GetProperty("kafka").GetProperty("description").GetString(), StringComparison.Ordinal);

        var alive = await GetJsonAsync(client, "/alive", HttpStatusCode.OK);
        Assert.Equal(["self"], alive.GetProperty("checks").EnumerateObject().Select(c => c.Name));
    }

    [Fact]
    public async Task Health_PostgresUnreachable_IsUnhealthyButAliveStaysUp()
    {
        await using var app = await StartAsync(
            new() { ["ConnectionStrings:trulayer"] = "Host=127.0.0.1;Port=1;Username=x;Password=y;Database=z;Timeout=2" },
            builder => builder.AddTrulayerNpgsql());
        var client = app.GetTestClient();

        var health = await GetJsonAsync(client, "/health", HttpStatusCode.ServiceUnavailable);
        var postgres = health.GetProperty("checks").GetProperty("postgres");
        Assert.Equal("Unhealthy", postgres.GetProperty("status").GetString());
        Assert.Contains("127.0.0.1:1", postgres.GetProperty("description").GetString(), StringComparison.Ordinal);

        await GetJsonAsync(client, "/alive", HttpStatusCode.OK);
    }

    [Fact]
    public async Task Request_ConnectionsClosedByTheServer_503WithRetryAfterNot500ThenServedAgain()
    {
        var applicationName = "outage-" + Guid.NewGuid().ToString("N")[..8];
        await using var app = await StartAsync(
            new() { ["ConnectionStrings:trulayer"] = $"{database.ConnectionString};Application Name={applicationName}" },
            builder => builder.AddTrulayerNpgsql(),
            app => app.MapGet("/query", async (Npgsql.NpgsqlDataSource dataSource) =>
            {
                await using var command = dataSource.CreateCommand("SELECT pg_sleep(0.05)");
                await command.ExecuteNonQueryAsync();
                return "ok";
            }));
        var client = app.GetTestClient();
        var warm = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => client.GetAsync("/query")));
        Assert.All(warm, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        // What a server restart leaves in the pool: idle connections whose backends are gone.
        await using (var terminate = database.DataSource.CreateCommand($"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '{applicationName}'"))
        {
            Assert.True((long)(await terminate.ExecuteScalarAsync())! >= 2);
        }

        using var first = await client.GetAsync("/query");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), first.Headers.RetryAfter?.Delta);
        Assert.Contains("database cannot be reached", (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);

        var after = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => client.GetAsync("/query")));
        Assert.All(after, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
    }

    [Fact]
    public async Task Request_SchemaBehindTheCode_503WithRetryAfterNot500ThenServedOnceMigrated()
    {
        // A reader deployed before the schema's owner applied the migration that adds what it calls.
        var function = "pending_" + Guid.NewGuid().ToString("N")[..8];
        await using var app = await StartAsync(
            new() { ["ConnectionStrings:trulayer"] = database.ConnectionString },
            builder => builder.AddTrulayerNpgsql(),
            app => app.MapGet("/query", async (Npgsql.NpgsqlDataSource dataSource) =>
            {
                await using var command = dataSource.CreateCommand($"SELECT public.{function}()");
                return (int)(await command.ExecuteScalarAsync())!;
            }));
        var client = app.GetTestClient();

        try
        {
            using var behind = await client.GetAsync("/query");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, behind.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(5), behind.Headers.RetryAfter?.Delta);
            Assert.Contains("migrations are still being applied", (await behind.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);

            await using (var migrate = database.DataSource.CreateCommand($"CREATE FUNCTION public.{function}() RETURNS int LANGUAGE sql AS 'SELECT 42'"))
            {
                await migrate.ExecuteNonQueryAsync();
            }

            Assert.Equal(42, await client.GetFromJsonAsync<int>("/query"));
        }
        finally
        {
            await using var drop = database.DataSource.CreateCommand($"DROP FUNCTION IF EXISTS public.{function}()");
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task Health_KafkaTopicMissing_IsUnhealthyAndNamesTheTopic()
    {
        await using var app = await StartAsync(
            new() { ["ConnectionStrings:kafka"] = kafka.BootstrapServers, ["Kafka:SpansTopic"] = "no.such.topic" },
            builder => builder.AddTrulayerKafka());

        var health = await GetJsonAsync(app.GetTestClient(), "/health", HttpStatusCode.ServiceUnavailable);
        Assert.Contains("no.such.topic", health.GetProperty("checks").GetProperty("kafka").GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithoutKafkaConnectionString_FailsNamingTheKey()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync([], builder => builder.AddTrulayerKafka()));
        Assert.Contains("ConnectionStrings:kafka", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithoutAssertionKey_FailsNamingTheKey()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync([], builder => builder.AddIdentityAssertionAuthentication()));
        Assert.Contains("Identity:AssertionKey", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithShortAssertionKey_FailsSayingHowLong()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(
            new() { ["Identity:AssertionKey"] = Convert.ToBase64String(new byte[16]) },
            builder => builder.AddIdentityAssertionAuthentication()));
        Assert.Contains("16 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddTrulayerNpgsql_WithoutConnectionString_FailsNamingTheKey()
    {
        var builder = WebApplication.CreateBuilder();
        var error = Assert.Throws<InvalidOperationException>(() => builder.AddTrulayerNpgsql());
        Assert.Contains("ConnectionStrings:trulayer", error.Message, StringComparison.Ordinal);
    }

    private static Task<WebApplication> StartProtectedAsync() => StartAsync(
        new() { ["Identity:AssertionKey"] = TestIdentity.AssertionKey },
        builder => builder.AddIdentityAssertionAuthentication(),
        app =>
        {
            app.MapGet("/who", (CallerIdentity caller) => caller.OrganizationId.ToString()).RequireAuthorization();
            app.MapGet("/owners", () => "ok").RequireAuthorization(policy => policy.RequireRole(Roles.Owner));
        });

    [Fact]
    public async Task ProtectedRoute_WithoutAssertion_Is401WithErrorBody()
    {
        await using var app = await StartProtectedAsync();

        var body = await GetJsonAsync(app.GetTestClient(), "/who", HttpStatusCode.Unauthorized);
        Assert.Contains("through the gateway", body.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProtectedRoute_WithAssertion_BindsTheCaller()
    {
        await using var app = await StartProtectedAsync();
        var organization = Guid.NewGuid();
        var client = app.GetTestClient();
        client.DefaultRequestHeaders.Add(IdentityAssertion.HeaderName, TestIdentity.Sign(TestIdentity.Session(Roles.Viewer, organization, Guid.NewGuid())));

        Assert.Equal(organization.ToString(), await client.GetStringAsync("/who"));
    }

    [Fact]
    public async Task RoleAllowlist_RoleNotListed_Is403NamingTheRole()
    {
        await using var app = await StartProtectedAsync();
        var client = app.GetTestClient();
        client.DefaultRequestHeaders.Add(IdentityAssertion.HeaderName, TestIdentity.Sign(TestIdentity.Session(Roles.Member, Guid.NewGuid(), Guid.NewGuid())));

        var body = await GetJsonAsync(client, "/owners", HttpStatusCode.Forbidden);
        Assert.Contains("'member'", body.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CorrelationId_ValidOneIsEchoed_InvalidOneReplaced()
    {
        await using var app = await StartAsync([], _ => { });
        var client = app.GetTestClient();

        using var valid = new HttpRequestMessage(HttpMethod.Get, "/alive") { Headers = { { CorrelationIdMiddleware.HeaderName, "req-123.abc" } } };
        using var validResponse = await client.SendAsync(valid);
        Assert.Equal("req-123.abc", validResponse.Headers.GetValues(CorrelationIdMiddleware.HeaderName).Single());

        using var invalid = new HttpRequestMessage(HttpMethod.Get, "/alive") { Headers = { { CorrelationIdMiddleware.HeaderName, "bad id with spaces" } } };
        using var invalidResponse = await client.SendAsync(invalid);
        var replaced = invalidResponse.Headers.GetValues(CorrelationIdMiddleware.HeaderName).Single();
        Assert.NotEqual("bad id with spaces", replaced);
        Assert.Equal(32, replaced.Length);
    }
}
