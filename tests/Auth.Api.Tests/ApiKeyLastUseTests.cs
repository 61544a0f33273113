using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Trulayer.Auth.ApiKeys;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.Tests;

/// <summary>Auth.Api whose last-use flush is an hour away, so only a stop writes it.</summary>
public sealed class AuthAppWithHourlyFlush : AuthApp
{
    protected override void Configure(Dictionary<string, string?> settings)
        => settings["Auth:ApiKeys:LastUsedFlushInterval"] = "01:00:00";
}

public sealed class ApiKeyLastUseTests(AuthAppWithHourlyFlush app) : IClassFixture<AuthAppWithHourlyFlush>
{
    [Fact]
    public async Task Verify_DoesNotWriteTheLastUse_TheFlusherWritesItInOneBatch()
    {
        var user = "user_" + Guid.NewGuid().ToString("N")[..8];
        using var signedIn = app.ClientAs(new CallerIdentity(CallerKind.Session, Guid.Empty, [], Subject: user));
        var organization = (await (await signedIn.PostAsJsonAsync("/v1/organizations", new { name = "o" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        using var owner = app.ClientAs(new CallerIdentity(CallerKind.Session, organization, [], Roles.Owner, user));
        var project = (await (await owner.PostAsJsonAsync("/v1/projects", new { name = "p" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        var keys = new List<JsonElement>();
        for (var i = 0; i < 3; i++)
        {
            keys.Add(await (await owner.PostAsJsonAsync("/v1/api-keys", new { name = $"k{i}", projectId = project })).Content.ReadFromJsonAsync<JsonElement>());
        }

        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        foreach (var key in keys)
        {
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await app.VerifyAsync(key.GetProperty("key").GetString()!, "ingest")).Status);
            }
        }

        Assert.All(await LastUsedAsync(project!), lastUsed => Assert.Null(lastUsed));

        var flusher = app.Factory.Services.GetServices<IHostedService>().OfType<ApiKeyUsageFlusher>().Single();
        await flusher.StopAsync(CancellationToken.None);

        Assert.All(await LastUsedAsync(project!), lastUsed => Assert.InRange(lastUsed!.Value, before, DateTimeOffset.UtcNow.AddSeconds(1)));
    }

    private async Task<List<DateTimeOffset?>> LastUsedAsync(string project)
    {
        await using var command = app.Database.DataSource.CreateCommand("SELECT last_used_at FROM auth.api_keys WHERE project_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = Guid.Parse(project) });
        var values = new List<DateTimeOffset?>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            values.Add(reader.IsDBNull(0) ? null : reader.GetFieldValue<DateTimeOffset>(0));
        }

        return values;
    }
}
