using System.Buffers.Text;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Trulayer.Auth.DevIssuer;

namespace Trulayer.Auth.Tests;

/// <summary>Auth.Api with the dev issuer on, listening on a real port: it fetches its own JWKS over HTTP.</summary>
public sealed class DevIssuerApp : AuthApp
{
    public static readonly string DevApiKey = "tl_" + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    // One key per app: Microsoft.IdentityModel caches signature providers process-wide by key id, so two
    // apps sharing a key would sign with the other's ECDsa, which is disposed when that app stops.
    private readonly string _signingKey = NewSigningKey();

    protected override bool UseKestrel => true;

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Auth:DevIssuer:Enabled"] = "true";
        settings["Auth:DevIssuer:SigningKey"] = _signingKey;
        settings["Auth:DevIssuer:ApiKey"] = DevApiKey;
    }

    public async Task<JsonElement> PostInternalAsync(string path, object? body = null)
    {
        using var client = Factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Add("X-Trulayer-Internal-Key", InternalKey);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static string NewSigningKey()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return Convert.ToBase64String(key.ExportPkcs8PrivateKey());
    }
}

public sealed class DevIssuerTests(DevIssuerApp app) : IClassFixture<DevIssuerApp>
{
    [Fact]
    public async Task DevSessions_OfSeededOwnerMemberViewer_VerifyWithTheirRoles()
    {
        var dev = await app.PostInternalAsync("/v1/auth/dev/sessions");
        var project = dev.GetProperty("projectId").GetString();

        foreach (var role in new[] { "owner", "member", "viewer" })
        {
            var (status, body) = await app.VerifyAsync(dev.GetProperty("sessions").GetProperty(role).GetString()!, "export");
            Assert.True(status == HttpStatusCode.OK, body.ToString());
            Assert.Equal(role, body.GetProperty("role").GetString());
            Assert.Equal(dev.GetProperty("organizationId").GetString(), body.GetProperty("organizationId").GetString());
            Assert.Contains(project, body.GetProperty("projectIds").EnumerateArray().Select(p => p.GetString()));
        }
    }

    [Fact]
    public async Task DevApiKey_IsSeededForTheDevProject()
    {
        var dev = await app.PostInternalAsync("/v1/auth/dev/sessions");

        var (status, body) = await app.VerifyAsync(DevIssuerApp.DevApiKey, "ingest");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([dev.GetProperty("projectId").GetString()], body.GetProperty("projectIds").EnumerateArray().Select(p => p.GetString()));
    }

    [Fact]
    public async Task Seeding_RunAgain_AddsNothing()
    {
        var seeder = app.Factory.Services.GetRequiredService<DevSeeder>();
        var first = seeder.Seed;

        await seeder.StartAsync(CancellationToken.None);
        await seeder.StartAsync(CancellationToken.None);

        Assert.Equal(first, seeder.Seed);
        await using var command = app.Database.DataSource.CreateCommand(
            "SELECT (SELECT count(*) FROM auth.organizations WHERE name = 'Dev organization'), (SELECT count(*) FROM auth.api_keys WHERE name = 'dev key'), (SELECT count(*) FROM auth.members WHERE user_id LIKE 'dev-%')");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal((1L, 1L, 3L), (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)));
    }

    [Fact]
    public async Task Jwks_PublishesOnlyThePublicEs256Key()
    {
        using var client = app.Factory.CreateClient();

        var jwks = await client.GetFromJsonAsync<JsonElement>("/.well-known/jwks.json");

        var key = jwks.GetProperty("keys").EnumerateArray().Single();
        Assert.Equal("EC", key.GetProperty("kty").GetString());
        Assert.Equal("ES256", key.GetProperty("alg").GetString());
        Assert.False(key.TryGetProperty("d", out _));
        Assert.Equal(app.Factory.Services.GetRequiredService<DevSessionIssuer>().KeyId, key.GetProperty("kid").GetString());
    }

    [Fact]
    public async Task DevToken_ForAnyUser_IsASessionOfThatUser()
    {
        var token = (await app.PostInternalAsync("/v1/auth/dev/token", new { userId = "someone-new" })).GetProperty("token").GetString()!;

        var (status, body) = await app.VerifyAsync(token, "signed-in");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("someone-new", body.GetProperty("subject").GetString());
    }

    [Fact]
    public async Task DevSessions_WithoutTheInternalKey_Is401()
    {
        using var client = app.Factory.CreateClient();

        using var response = await client.PostAsync("/v1/auth/dev/sessions", null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
