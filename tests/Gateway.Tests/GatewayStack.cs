using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Trulayer.AppHost.Model;
using Trulayer.AppHost.Run;

namespace Trulayer.Gateway.Tests;

/// <summary>
/// The whole stack from the AppHost's graph (real Auth.Api with its dev issuer, ingest, export,
/// processor, PostgreSQL, the dev broker, and the gateway under test), shared by the gateway's test
/// classes. The gateway keeps verdicts for 2 s instead of 30 and allows an API key 20 requests at once,
/// so revocation and rate limits show quickly. It trusts 127.0.0.1 as a proxy (X-Forwarded-For), and a
/// client address may fail to authenticate <see cref="FailedAuthenticationBurst"/> times at once, then once
/// every 10 s. Auth.Api's audit appends wait 1 s for their chain, and Export.Api logs every request it starts.
/// </summary>
public sealed class GatewayStack : StackFixture
{
    public const int ApiKeyBurst = 20;
    public const int FailedAuthenticationBurst = 20;
    public static readonly TimeSpan CacheTtl = TimeSpan.FromSeconds(2);

    /// <summary>An origin other than the gateway's own whose pages may write with the session cookie.</summary>
    public const string AllowedDashboardOrigin = "https://dashboard.example.test";

    public Guid DevProject => Guid.Parse(Dev.ProjectId!);

    public string Owner => Dev.Sessions!["owner"];

    public string Member => Dev.Sessions!["member"];

    public string Viewer => Dev.Sessions!["viewer"];

    public Uri GatewayGrpc => App.GetEndpoint("gateway", "grpc");

    public string Setting(string resource, string name) => App.GetEnvironment(resource)[name];

    protected override void Configure(AppModel model)
    {
        var gateway = model.Get<ProjectResource>("gateway");
        gateway.WithEnvironment("Gateway__CredentialCacheTtl", CacheTtl.ToString());
        gateway.WithEnvironment("Gateway__RateLimit__ApiKey__PermitsPerSecond", "10");
        gateway.WithEnvironment("Gateway__RateLimit__ApiKey__Burst", ApiKeyBurst.ToString(System.Globalization.CultureInfo.InvariantCulture));
        gateway.WithEnvironment("Gateway__AllowedOrigins__0", AllowedDashboardOrigin);
        gateway.WithEnvironment("Gateway__TrustedProxies__0", IPAddress.Loopback.ToString());
        gateway.WithEnvironment("Gateway__RateLimit__FailedAuthentication__PermitsPerMinute", "6");
        gateway.WithEnvironment("Gateway__RateLimit__FailedAuthentication__Burst", FailedAuthenticationBurst.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // An audit intent waits at most 1 s for its organization's chain (AuditTests holds it), and Export.Api
        // logs each request it starts, so a test can tell whether a call reached it.
        model.Get<ProjectResource>("auth").WithEnvironment("Auth__Audit__LockTimeout", "00:00:01");
        model.Get<ProjectResource>("export").WithEnvironment("Logging__LogLevel__Microsoft.AspNetCore.Hosting.Diagnostics", "Information");

        // The dev key in the format keys had before checksums (what an existing deployment still holds),
        // so the legacy path is tested against the real Auth.Api; keys the tests create are checksummed.
        model.Get<ProjectResource>("auth").WithEnvironment("Auth__DevIssuer__ApiKey", "tl_" + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32)));
    }

    /// <summary>
    /// A client whose connections come from <paramref name="local"/>, one of this machine's loopback
    /// addresses (all of 127.0.0.0/8), so the gateway sees a client address other than 127.0.0.1.
    /// </summary>
    public static HttpClient ClientFrom(IPAddress local) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(local, 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    {
        Timeout = TimeSpan.FromSeconds(60),
    };

    /// <summary>A loopback address of its own (127.13.x.y) for a test that must not share its client address.</summary>
    public static IPAddress NewLoopbackAddress() => new([127, 13, (byte)Random.Shared.Next(256), (byte)Random.Shared.Next(1, 255)]);


    public async Task<JsonElement> SendJsonAsync(HttpMethod method, string path, string credential, object? body, HttpStatusCode expected)
    {
        using var response = await SendAsync(method, path, credential, body is null ? null : JsonContent.Create(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: {(int)response.StatusCode} {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>A new API key of <paramref name="project"/>, created through the gateway by <paramref name="session"/>.</summary>
    public async Task<(string Key, Guid Id)> CreateApiKeyAsync(string session, Guid project)
    {
        var created = await SendJsonAsync(HttpMethod.Post, "/v1/api-keys", session, new { name = "test key", projectId = project.ToString() }, HttpStatusCode.Created);
        return (created.GetProperty("key").GetString()!, created.GetProperty("id").GetGuid());
    }

    /// <summary>A session token for any user from Auth.Api's dev issuer (an internal route, called directly).</summary>
    public async Task<string> MintSessionAsync(string userId, Guid? organization = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(App.GetEndpoint("auth"), "/v1/auth/dev/token"))
        {
            Content = JsonContent.Create(new { userId, organizationId = organization?.ToString() }),
        };
        request.Headers.Add("X-Trulayer-Internal-Key", Setting("auth", "Auth__InternalKey"));
        using var response = await Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
    }

    /// <summary>Another tenant: a new person who creates an organization with a project and an API key, all through the gateway.</summary>
    public async Task<Tenant> NewTenantAsync()
    {
        var user = "tenant_" + Guid.NewGuid().ToString("N")[..8];
        var session = await MintSessionAsync(user);
        var organization = (await SendJsonAsync(HttpMethod.Post, "/v1/organizations", session, new { name = "Tenant " + user }, HttpStatusCode.Created)).GetProperty("id").GetGuid();
        var project = (await SendJsonAsync(HttpMethod.Post, "/v1/projects", session, new { name = "their project" }, HttpStatusCode.Created)).GetProperty("id").GetGuid();
        var (key, keyId) = await CreateApiKeyAsync(session, project);
        return new Tenant(user, session, organization, project, key, keyId);
    }

    /// <summary>The key with one character of its secret changed, as a typo would.</summary>
    public static string WithTypo(string key) => key[..10] + (key[10] == 'x' ? 'y' : 'x') + key[11..];

    /// <summary>Polls <paramref name="condition"/> for up to 10 s; fails if it never holds.</summary>
    public static async Task Eventually(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.True(condition());
    }

    public static StringContent OtlpJson(string json = "{}") => new(json, Encoding.UTF8, "application/json");

    public static ByteArrayContent OtlpProtobuf()
    {
        var content = new ByteArrayContent([]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        return content;
    }

    public static async Task<string> ErrorAsync(HttpResponseMessage response)
        => (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;
}

public sealed record Tenant(string User, string Session, Guid Organization, Guid Project, string ApiKey, Guid ApiKeyId);

[CollectionDefinition(Name)]
public sealed class GatewayCollection : ICollectionFixture<GatewayStack>
{
    public const string Name = "gateway stack";
}
