using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Gateway.Tests;

/// <summary>What the gateway decides and forwards, against the real services of a running stack.</summary>
[Collection(GatewayCollection.Name)]
public sealed class GatewayDecisionTests(GatewayStack stack)
{
    /// <summary>A session token signed with the stack's own dev-issuer key, with the claims a test chooses.</summary>
    private string SignSession(string subject, string? issuer = null, string audience = "trulayer-dev", DateTimeOffset? expires = null)
    {
        using var key = System.Security.Cryptography.ECDsa.Create();
        key.ImportPkcs8PrivateKey(Convert.FromBase64String(stack.Setting("auth", "Auth__DevIssuer__SigningKey")), out _);
        var parameters = key.ExportParameters(true);
        var signingKey = new ECDsaSecurityKey(System.Security.Cryptography.ECDsa.Create(parameters))
        {
            KeyId = new JsonWebTokenHandler().ReadJsonWebToken(stack.Owner).Kid,
        };
        var now = DateTimeOffset.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? stack.Setting("auth", "Auth__Session__Issuer"),
            Audience = audience,
            Claims = new Dictionary<string, object> { ["sub"] = subject },
            IssuedAt = now.AddHours(-2).UtcDateTime,
            NotBefore = now.AddHours(-2).UtcDateTime,
            Expires = (expires ?? now.AddHours(1)).UtcDateTime,
            SigningCredentials = new SigningCredentials(signingKey, SecurityAlgorithms.EcdsaSha256),
        });
    }

    [Fact]
    public async Task DevJson_HoldsAWorkingApiKeyProjectAndSessions()
    {
        Assert.StartsWith("tl_", stack.Dev.ApiKey, StringComparison.Ordinal);
        Assert.Equal(["member", "owner", "viewer"], stack.Dev.Sessions!.Keys.Order());

        var session = await stack.SendJsonAsync(HttpMethod.Get, "/v1/session", stack.Owner, null, HttpStatusCode.OK);
        Assert.Equal("owner", session.GetProperty("role").GetString());
        Assert.Contains(stack.Dev.ProjectId, session.GetProperty("projects").EnumerateArray().Select(p => p.GetProperty("id").GetString()));

        using var ingest = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", stack.Dev.ApiKey, GatewayStack.OtlpJson());
        Assert.NotEqual(HttpStatusCode.Unauthorized, ingest.StatusCode);
        Assert.NotEqual(HttpStatusCode.Forbidden, ingest.StatusCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Basic dXNlcjpwYXNz")]
    [InlineData("Bearer ")]
    public async Task NoUsableCredential_Is401WithErrorBody(string? authorization)
    {
        using var response = await stack.SendAsync(HttpMethod.Get, "/v1/projects", null, configure: request =>
        {
            if (authorization is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }
        });

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Authorization: Bearer", await GatewayStack.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OtlpRoute_RefusalAsProtobuf_IsAGoogleRpcStatus()
    {
        using var response = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", ApiKeyFormat.Generate(), GatewayStack.OtlpProtobuf());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/x-protobuf", response.Content.Headers.ContentType?.MediaType);
        var status = Google.Rpc.Status.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(16, status.Code);
        Assert.Contains("not known", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OtlpRoute_RefusalAsJson_HasCodeMessageAndError()
    {
        using var response = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/v1/traces?project_id=" + stack.DevProject, stack.Viewer, GatewayStack.OtlpJson());

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(7, body.GetProperty("code").GetInt32());
        Assert.Contains("'viewer'", body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(body.GetProperty("message").GetString(), body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task ApiKeyOnExport_Is403SayingADashboardSessionIsNeeded()
    {
        using var response = await stack.SendAsync(HttpMethod.Get, "/v1/otlp/export?project_id=" + stack.DevProject, stack.Dev.ApiKey);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("dashboard session", await GatewayStack.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SessionIngest_WithoutProjectId_Is400SayingToAddIt()
    {
        using var response = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", stack.Member, GatewayStack.OtlpJson());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("?project_id=", await GatewayStack.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Session_InCookie_IsAcceptedLikeTheHeader()
    {
        using var response = await stack.SendAsync(HttpMethod.Get, "/v1/session", null, configure: request => request.Headers.Add("Cookie", "__session=" + stack.Viewer));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("viewer", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("role").GetString());
    }

    [Fact]
    public async Task ExpiredSession_Is401SayingExpired()
    {
        var token = SignSession("dev-owner", expires: DateTimeOffset.UtcNow.AddMinutes(-10));

        using var response = await stack.SendAsync(HttpMethod.Get, "/v1/session", token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("expired", await GatewayStack.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SessionOfAnotherIssuer_Is401()
    {
        using var response = await stack.SendAsync(HttpMethod.Get, "/v1/session", SignSession("dev-owner", issuer: "https://evil.example"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("issuer 'https://evil.example'", await GatewayStack.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SessionForAnotherAudience_Is401()
    {
        using var response = await stack.SendAsync(HttpMethod.Get, "/v1/session", SignSession("dev-owner", audience: "some-other-app"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("audience 'some-other-app'", await GatewayStack.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnsignedSession_AlgNone_Is401()
    {
        var genuine = stack.Owner.Split('.');
        var header = Base64UrlEncoder.Encode("""{"alg":"none","typ":"JWT"}""");

        using var response = await stack.SendAsync(HttpMethod.Get, "/v1/session", $"{header}.{genuine[1]}.");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("alg 'none'", await GatewayStack.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SpoofedIdentityHeaders_AreIgnored()
    {
        // A genuine assertion, signed with the stack's own key, for an owner of some other organization.
        var signer = new IdentityAssertionSigner(
            Options.Create(new IdentityOptions { AssertionKey = stack.Setting("gateway", "Identity__AssertionKey") }), TimeProvider.System);
        var spoofed = signer.Sign(new CallerIdentity(CallerKind.Session, Guid.NewGuid(), [Guid.NewGuid()], Roles.Owner, "intruder"));

        using var asViewer = await stack.SendAsync(HttpMethod.Get, "/v1/session", stack.Viewer, configure: request =>
        {
            request.Headers.Add(IdentityAssertion.HeaderName, spoofed);
            request.Headers.Add("X-Forwarded-User", "intruder");
        });
        var session = await asViewer.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("dev-viewer", session.GetProperty("userId").GetString());
        Assert.Equal("viewer", session.GetProperty("role").GetString());

        using var anonymous = await stack.SendAsync(HttpMethod.Get, "/v1/session", null, configure: request => request.Headers.Add(IdentityAssertion.HeaderName, spoofed));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        using var viewerWrite = await stack.SendAsync(HttpMethod.Post, "/v1/projects", stack.Viewer, JsonContent.Create(new { name = "spoofed" }), request =>
            request.Headers.Add(IdentityAssertion.HeaderName, spoofed));
        Assert.Equal(HttpStatusCode.Forbidden, viewerWrite.StatusCode);
    }

    [Theory]
    [InlineData("/v1/session")]
    [InlineData("/v1/projects")]
    public async Task ServiceCalledDirectlyWithoutAssertion_Is401(string path)
    {
        using var response = await stack.Http.GetAsync(new Uri(stack.App.GetEndpoint("auth"), path));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("through the gateway", await GatewayStack.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST", "/v1/auth/verify")]
    [InlineData("POST", "/v1/auth/dev/sessions")]
    [InlineData("POST", "/v1/auth/dev/token")]
    [InlineData("GET", "/.well-known/jwks.json")]
    [InlineData("GET", "/v1/otlp/traces")]
    public async Task InternalAndUnknownRoutes_AreNotRouted(string method, string path)
    {
        using var response = await stack.SendAsync(new HttpMethod(method), path, stack.Owner, configure: request =>
            request.Headers.Add("X-Trulayer-Internal-Key", stack.Setting("gateway", "Auth__InternalKey")));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("no route", await GatewayStack.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CorrelationId_IsEchoedAndLoggedByTheGatewayAndTheServiceBehindIt()
    {
        var id = "test-" + Guid.NewGuid().ToString("N");

        using var response = await stack.SendAsync(HttpMethod.Post, "/v1/projects", stack.Member, JsonContent.Create(new { name = "correlated " + id[^8..] }),
            request => request.Headers.Add(CorrelationIdMiddleware.HeaderName, id));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(id, response.Headers.GetValues(CorrelationIdMiddleware.HeaderName).Single());
        await GatewayStack.Eventually(() => stack.Log.Lines.Any(l => l.StartsWith("gateway", StringComparison.Ordinal) && l.Contains(id, StringComparison.Ordinal)));
        await GatewayStack.Eventually(() => stack.Log.Lines.Any(l => l.StartsWith("auth", StringComparison.Ordinal) && l.Contains(id, StringComparison.Ordinal)));

        using var refused = await stack.SendAsync(HttpMethod.Get, "/v1/projects", null);
        Assert.Equal(32, refused.Headers.GetValues(CorrelationIdMiddleware.HeaderName).Single().Length);
    }

    [Fact]
    public async Task BodyOverTwentyMebibytes_WithContentLength_Is413BeforeForwarding()
    {
        var body = new ByteArrayContent(new byte[GatewayOptions.MaxRequestBodySize + 1]);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        // Expect: 100-continue lets the client learn the answer before it sends 20 MiB the gateway will not read.
        using var response = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", stack.Dev.ApiKey, body, request => request.Headers.ExpectContinue = true);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var error = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(8, error.GetProperty("code").GetInt32());
        Assert.Contains("20 MiB", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BodyOverTwentyMebibytes_ClientWritesAllBeforeReading_ReadsThe413()
    {
        // 21 MiB of OTLP/JSON from a client that sends no Expect header and reads nothing until it has
        // written everything: the gateway must read and discard the rest, or the client sees a reset.
        var json = Encoding.UTF8.GetBytes("{\"resourceSpans\":[],\"padding\":\"" + new string('a', 21 * 1024 * 1024) + "\"}");

        var response = await RawHttpClient.PostWholeBodyThenReadAsync(stack.Gateway, "/v1/otlp/traces", json, new Dictionary<string, string>
        {
            ["Authorization"] = $"Bearer {stack.Dev.ApiKey}",
            ["Content-Type"] = "application/json",
        });

        Assert.Equal(413, response.Status);
        Assert.Contains("20 MiB", response.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChunkedBodyOverTwentyMebibytes_Is413WhileForwarding()
    {
        // Auth.Api reads a JSON body to its end, so the gateway streams until its limit stops it.
        var json = "{\"name\": \"" + new string('a', (int)GatewayOptions.MaxRequestBodySize) + "\"}";
        var content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await stack.SendAsync(HttpMethod.Post, "/v1/projects", stack.Owner, content, request => request.Headers.TransferEncodingChunked = true);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("20 MiB", await GatewayStack.ErrorAsync(response), StringComparison.Ordinal);
    }
}
