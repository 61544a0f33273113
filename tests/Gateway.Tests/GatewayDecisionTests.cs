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
    public async Task CorrelationId_IsEchoedAndLoggedByTheServiceBehind_AndByTheGatewayOnARefusal()
    {
        var id = "test-" + Guid.NewGuid().ToString("N");

        using var response = await stack.SendAsync(HttpMethod.Post, "/v1/projects", stack.Member, JsonContent.Create(new { name = "correlated " + id[^8..] }),
            request => request.Headers.Add(CorrelationIdMiddleware.HeaderName, id));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(id, response.Headers.GetValues(CorrelationIdMiddleware.HeaderName).Single());
        await GatewayStack.Eventually(() => stack.Log.Lines.Any(l => l.StartsWith("auth", StringComparison.Ordinal) && l.Contains(id, StringComparison.Ordinal)));

        using var refused = await stack.SendAsync(HttpMethod.Get, "/v1/projects", null);
        var generated = refused.Headers.GetValues(CorrelationIdMiddleware.HeaderName).Single();
        Assert.Equal(32, generated.Length);
        await GatewayStack.Eventually(() => GatewayLogged(generated, "GET /v1/projects -> 401"));
    }

    [Fact]
    public async Task AccessLog_RefusalsAfterMoreSuccessesThanASecondsLines_AreEachLoggedWithTheirCorrelationId()
    {
        // More successes at once than the access log writes lines for in a second (10): they are
        // sampled, the refusals after them are not.
        var successes = await Task.WhenAll(Enumerable.Range(0, 30).Select(async _ =>
        {
            using var response = await stack.SendAsync(HttpMethod.Get, "/v1/session", stack.Owner);
            return response.StatusCode;
        }));
        Assert.All(successes, status => Assert.Equal(HttpStatusCode.OK, status));

        var refusals = new (string Id, HttpMethod Method, string Path, string? Credential, string Expected)[]
        {
            ("refused-401-" + Guid.NewGuid().ToString("N"), HttpMethod.Get, "/v1/projects", null, "GET /v1/projects -> 401"),
            ("refused-404-" + Guid.NewGuid().ToString("N"), HttpMethod.Get, "/v1/no-such-route", stack.Owner, "GET /v1/no-such-route -> 404"),
            ("refused-403-" + Guid.NewGuid().ToString("N"), HttpMethod.Get, "/v1/otlp/export?project_id=" + stack.DevProject, stack.Dev.ApiKey, "GET /v1/otlp/export -> 403"),
        };
        foreach (var (id, method, path, credential, _) in refusals)
        {
            using var response = await stack.SendAsync(method, path, credential, configure: request => request.Headers.Add(CorrelationIdMiddleware.HeaderName, id));
            Assert.True((int)response.StatusCode >= 400, $"{method} {path}: {(int)response.StatusCode}");
        }

        foreach (var (id, _, _, _, expected) in refusals)
        {
            await GatewayStack.Eventually(() => GatewayLogged(id, expected));
        }
    }

    private bool GatewayLogged(string correlationId, string text)
        => stack.Log.Lines.Any(l => l.StartsWith("gateway", StringComparison.Ordinal) && l.Contains(text, StringComparison.Ordinal) && l.Contains($"({correlationId})", StringComparison.Ordinal));

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

/// <summary>Which requests the access log writes a line for (<see cref="AccessLogSampler"/>).</summary>
public sealed class AccessLogSamplerTests
{
    private static AccessLogSampler Sampler(int successesPerSecond)
        => new(Options.Create(new AccessLogOptions { SuccessesPerSecond = successesPerSecond }));

    [Fact]
    public void TakeSuccess_OverTheSecondsBudget_CountsTheRestIntoTheNextLine()
    {
        var sampler = Sampler(3);

        var first = Enumerable.Range(0, 8).Select(_ => sampler.TakeSuccess(100, out var unlogged) ? unlogged : -1).ToArray();
        var next = Enumerable.Range(0, 3).Select(_ => sampler.TakeSuccess(101, out var unlogged) ? unlogged : -1).ToArray();

        Assert.Equal([0, 0, 0, -1, -1, -1, -1, -1], first);
        Assert.Equal([5, 0, 0], next);
    }

    [Fact]
    public void TakeSuccess_FromManyThreadsAtOnce_LogsTheBudgetAndCountsEveryOtherRequest()
    {
        var sampler = Sampler(10);
        long logged = 0;

        Parallel.For(0, 10_000, _ =>
        {
            if (sampler.TakeSuccess(7, out _))
            {
                Interlocked.Increment(ref logged);
            }
        });

        Assert.Equal(10, logged);
        Assert.True(sampler.TakeSuccess(8, out var unlogged));
        Assert.Equal(9_990, unlogged);
    }

    [Fact]
    public void TakeSuccess_WithABudgetOfZero_LogsNoSuccess()
    {
        var sampler = Sampler(0);

        Assert.False(sampler.TakeSuccess(1, out _));
        Assert.False(sampler.TakeSuccess(2, out _));
    }

    [Theory]
    [InlineData(200, null, false)]
    [InlineData(204, null, false)]
    [InlineData(302, null, false)]
    [InlineData(200, "0", false)]
    [InlineData(400, null, true)]
    [InlineData(401, null, true)]
    [InlineData(429, null, true)]
    [InlineData(503, null, true)]
    [InlineData(200, "16", true)]
    [InlineData(200, "8", true)]
    public void IsError_RefusalsErrorsAndGrpcStatusesOtherThanOk(int status, string? grpcStatus, bool error)
        => Assert.Equal(error, AccessLogSampler.IsError(status, grpcStatus));

    [Fact]
    public void IsSlow_FromTheConfiguredDuration()
    {
        var sampler = new AccessLogSampler(Options.Create(new AccessLogOptions { SlowRequest = TimeSpan.FromMilliseconds(500) }));

        Assert.False(sampler.IsSlow(TimeSpan.FromMilliseconds(499)));
        Assert.True(sampler.IsSlow(TimeSpan.FromMilliseconds(500)));
    }

    [Fact]
    public void Options_Defaults_Validate()
        => Assert.True(new AccessLogOptionsValidator().Validate(null, new AccessLogOptions()).Succeeded);

    [Theory]
    [InlineData(-1, "00:00:01", "Gateway:AccessLog:SuccessesPerSecond")]
    [InlineData(10, "00:00:00", "Gateway:AccessLog:SlowRequest")]
    public void Options_OutOfRange_FailNamingTheKey(int successesPerSecond, string slowRequest, string key)
    {
        var result = new AccessLogOptionsValidator().Validate(null, new AccessLogOptions
        {
            SuccessesPerSecond = successesPerSecond,
            SlowRequest = TimeSpan.Parse(slowRequest, System.Globalization.CultureInfo.InvariantCulture),
        });

        Assert.True(result.Failed);
        Assert.Contains(key, result.FailureMessage, StringComparison.Ordinal);
    }
}

/// <summary>Kestrel's 64 KiB receive blocks (<see cref="LargeBlockMemoryPool"/>).</summary>
public sealed class LargeBlockMemoryPoolTests
{
    [Fact]
    public void Rent_Gives64KiBBlocks_AndReusesReturnedOnes()
    {
        using var pool = new LargeBlockMemoryPool();

        var first = pool.Rent(2048);
        var memory = first.Memory;
        first.Dispose();
        using var second = pool.Rent();

        Assert.Equal(64 * 1024, memory.Length);
        Assert.True(memory.Equals(second.Memory));
    }

    [Fact]
    public void Return_BeyondTheRetainedCount_LeavesTheRestToTheGc()
    {
        using var pool = new LargeBlockMemoryPool();
        var rented = Enumerable.Range(0, LargeBlockMemoryPool.MaxRetained + 10).Select(_ => pool.Rent()).ToList();
        var memories = rented.Select(b => b.Memory).ToList();
        rented.ForEach(b => b.Dispose());

        var again = Enumerable.Range(0, LargeBlockMemoryPool.MaxRetained + 10).Select(_ => pool.Rent()).ToList();

        Assert.Equal(LargeBlockMemoryPool.MaxRetained, again.Count(b => memories.Any(m => m.Equals(b.Memory))));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(LargeBlockMemoryPool.BlockSize + 1));
    }
}
