using System.Diagnostics;
using System.Net;
using Npgsql;
using Trulayer.AppHost.Run;

namespace Trulayer.AppHost.Tests;

/// <summary>The AppHost's resource graph started in-process, driven by name as the fault tests drive it.</summary>
public sealed class StackTests(StackFixture stack) : IClassFixture<StackFixture>
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>The status /health answers; a refused connection counts as unavailable.</summary>
    private async Task<HttpStatusCode> HealthAsync(string resource)
    {
        try
        {
            using var response = await Http.GetAsync(new Uri(stack.App.GetEndpoint(resource), "/health"));
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return HttpStatusCode.ServiceUnavailable;
        }
    }

    private static async Task<HttpStatusCode> EventuallyAsync(Func<Task<HttpStatusCode>> probe, HttpStatusCode expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        HttpStatusCode last;
        do
        {
            last = await probe();
            if (last == expected)
            {
                return last;
            }

            await Task.Delay(250);
        }
        while (DateTime.UtcNow < deadline);
        return last;
    }

    private static readonly string[] Services = ["auth", "processor", "ingest", "export", "gateway"];

    /// <summary>
    /// What a test that disrupts the shared stack owes the next one: every service healthy again (a
    /// service reconnects to a restarted store on its own schedule, so this waits for each).
    /// </summary>
    private async Task RestoredAsync()
    {
        foreach (var service in Services)
        {
            Assert.True(
                await EventuallyAsync(() => HealthAsync(service), HttpStatusCode.OK, TimeSpan.FromSeconds(60)) == HttpStatusCode.OK,
                $"{service} did not answer /health with 200 within 60 s of the disruption ending:\n{stack.Log.Tail()}");
        }
    }

    [Fact]
    public async Task Start_EveryResourceRunsAndAnswersHealthy()
    {
        Assert.All(stack.App.Describe(), r => Assert.Equal("running", r.State));
        foreach (var service in Services)
        {
            Assert.Equal(HttpStatusCode.OK, await HealthAsync(service));
        }

        var info = DevInfo.Read(stack.StateDirectory);
        Assert.NotNull(info);
        Assert.Equal(stack.Gateway.ToString().TrimEnd('/'), info.Gateway);
        Assert.Equal(stack.App.GetConnectionString("kafka"), info.Kafka);
        Assert.Equal(stack.App.GetConnectionString("postgres"), info.Postgres);
    }

    [Fact]
    public async Task CrashedService_IsRestartedWithBackoffAndLogged()
    {
        var before = stack.App.GetProcessId("export")!.Value;
        var restarts = stack.App.GetRestartCount("export");

        Process.GetProcessById(before).Kill();

        Assert.Equal(HttpStatusCode.OK, await EventuallyAsync(
            async () => stack.App.GetProcessId("export") is { } pid && pid != before ? await HealthAsync("export") : HttpStatusCode.ServiceUnavailable,
            HttpStatusCode.OK,
            TimeSpan.FromSeconds(60)));
        Assert.Equal(restarts + 1, stack.App.GetRestartCount("export"));
        Assert.Contains(stack.Log.Lines, line => line.StartsWith("export", StringComparison.Ordinal) && line.Contains("restarting in", StringComparison.Ordinal));
        await RestoredAsync();
    }

    [Fact]
    public async Task KafkaDown_IngestUnhealthy_UntilItIsBack()
    {
        await stack.App.StopResourceAsync("kafka");
        try
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await EventuallyAsync(() => HealthAsync("ingest"), HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30)));
            // Export does not use Kafka: an outage of it must not take export down.
            Assert.Equal(HttpStatusCode.OK, await HealthAsync("export"));
        }
        finally
        {
            await stack.App.StartResourceAsync("kafka");
        }

        Assert.Equal(HttpStatusCode.OK, await EventuallyAsync(() => HealthAsync("ingest"), HttpStatusCode.OK, TimeSpan.FromSeconds(60)));
        await RestoredAsync();
    }

    [Fact]
    public async Task Postgres_StoppedAndStarted_KeepsItsData()
    {
        var connectionString = stack.App.GetConnectionString("postgres");
        var marker = Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE TABLE keep_{marker} (v text); INSERT INTO keep_{marker} VALUES ('{marker}')", connection);
            await command.ExecuteNonQueryAsync();
        }

        await stack.App.StopResourceAsync("postgres");
        await stack.App.StartResourceAsync("postgres");
        NpgsqlConnection.ClearAllPools();

        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"SELECT v FROM keep_{marker}", connection);
            Assert.Equal(marker, await command.ExecuteScalarAsync());
        }

        await RestoredAsync();
    }

    [Fact]
    public async Task KilledService_StaysDownUntilStartedAgain()
    {
        await stack.App.KillResourceAsync("auth");
        try
        {
            Assert.Null(stack.App.GetProcessId("auth"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await EventuallyAsync(() => HealthAsync("gateway"), HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(20)));
        }
        finally
        {
            await stack.App.StartResourceAsync("auth");
        }

        Assert.NotNull(stack.App.GetProcessId("auth"));
        Assert.Equal(HttpStatusCode.OK, await EventuallyAsync(() => HealthAsync("gateway"), HttpStatusCode.OK, TimeSpan.FromSeconds(20)));
        await RestoredAsync();
    }
}
