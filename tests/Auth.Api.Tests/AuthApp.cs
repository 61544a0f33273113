using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Trulayer.AppHost.Run;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.Tests;

/// <summary>
/// Auth.Api under test: the real service (WebApplicationFactory over its Program) on a fresh database
/// of the real PostgreSQL, trusting <see cref="TestIssuer"/>'s JWKS for sessions.
/// </summary>
public class AuthApp : IAsyncLifetime
{
    public static readonly string InternalKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    // Any type of Auth.Api names its assembly to the factory; "Program" alone is ambiguous with the
    // AppHost's, which Trulayer.Testing references.
    private WebApplicationFactory<AuthOptions>? _factory;
    private Dictionary<string, string?> _settings = [];

    public DatabaseFixture Database { get; } = new();

    public TestIssuer Issuer { get; } = new();

    public WebApplicationFactory<AuthOptions> Factory => _factory ?? throw new InvalidOperationException("not started");

    /// <summary>Settings on top of the defaults; a subclass adds its own.</summary>
    protected virtual void Configure(Dictionary<string, string?> settings)
    {
    }

    /// <summary>Whether Auth.Api listens on a real port (the dev issuer fetches its own JWKS over HTTP).</summary>
    protected virtual bool UseKestrel => false;

    public virtual async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        await Issuer.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:trulayer"] = Database.ConnectionString,
            [TestIdentity.Configuration.Key] = TestIdentity.Configuration.Value,
            ["Auth:InternalKey"] = InternalKey,
            ["Auth:Session:Issuer"] = TestIssuer.IssuerName,
            ["Auth:Session:Audience"] = TestIssuer.AudienceName,
            ["Auth:Session:JwksUrl"] = Issuer.JwksUrl.ToString(),
            ["Auth:Session:JwksMinimumRefreshInterval"] = "00:00:01",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        var port = UseKestrel ? Ports.GetFree() : 0;
        if (UseKestrel)
        {
            settings["Auth:Session:Issuer"] = $"http://127.0.0.1:{port}";
            settings["urls"] = $"http://127.0.0.1:{port}";
            settings.Remove("Auth:Session:JwksUrl");
        }

        Configure(settings);
        _settings = settings;
        _factory = CreateHost(settings);
        if (UseKestrel)
        {
            _factory.UseKestrel();
            _factory.StartServer();
        }
        else
        {
            _ = _factory.Server;
        }
    }

    /// <summary>
    /// Another host of Auth.Api on the same database (a second replica, with its own connection pool),
    /// started; the caller disposes it.
    /// </summary>
    public WebApplicationFactory<AuthOptions> StartReplica()
    {
        var replica = CreateHost(_settings);
        _ = replica.Server;
        return replica;
    }

    private static WebApplicationFactory<AuthOptions> CreateHost(Dictionary<string, string?> settings)
        => new WebApplicationFactory<AuthOptions>().WithWebHostBuilder(builder =>
        {
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
        });

    public async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            try
            {
                await _factory.DisposeAsync();
            }
            catch (ObjectDisposedException)
            {
                // WebApplicationFactory can dispose the host's services before a background service's
                // StopAsync is done (dotnet/aspnetcore#57738): the API key usage flusher's last flush then
                // meets a disposed data source. Seen once in a class cleanup; nothing is asserted here, and
                // the running service stops in the right order (the host stops before it disposes).
            }
        }

        await Issuer.DisposeAsync();
        await Database.DisposeAsync();
    }

    /// <summary>A client that calls Auth.Api as the gateway would for <paramref name="caller"/>.</summary>
    public HttpClient ClientAs(CallerIdentity caller)
    {
        var client = Factory.CreateClient();
        client.DefaultRequestHeaders.Add(IdentityAssertion.HeaderName, TestIdentity.Sign(caller));
        return client;
    }

    /// <summary>A new organization created by a new person through POST /v1/organizations: its owner, as the gateway asserts them, and its id.</summary>
    public async Task<(CallerIdentity Owner, Guid Organization)> NewOrganizationAsync()
    {
        var user = "user_" + Guid.NewGuid().ToString("N")[..8];
        using var signedIn = ClientAs(new CallerIdentity(CallerKind.Session, Guid.Empty, [], Subject: user));
        using var response = await signedIn.PostAsJsonAsync("/v1/organizations", new { name = "Acme" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var organization = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        return (new CallerIdentity(CallerKind.Session, organization, [], Roles.Owner, user), organization);
    }

    /// <summary>POST /v1/auth/verify with the internal key, as the gateway calls it.</summary>
    public async Task<(HttpStatusCode Status, JsonElement Body)> VerifyAsync(string credential, string policy)
    {
        using var client = Factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/verify") { Content = JsonContent.Create(new { credential, policy }) };
        request.Headers.Add("X-Trulayer-Internal-Key", InternalKey);
        using var response = await client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }
}
