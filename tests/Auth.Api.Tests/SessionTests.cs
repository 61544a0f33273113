using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.Tests;

/// <summary>Session JWTs through POST /v1/auth/verify, against the test issuer's JWKS served over HTTP.</summary>
public sealed class SessionTests(AuthApp app) : IClassFixture<AuthApp>
{
    /// <summary>A user who owns a new organization with one project.</summary>
    private async Task<(string User, Guid Organization, Guid Project)> NewOwnerAsync()
    {
        var user = "user_" + Guid.NewGuid().ToString("N")[..8];
        using var signedIn = app.ClientAs(new CallerIdentity(CallerKind.Session, Guid.Empty, [], Subject: user));
        var organization = (await (await signedIn.PostAsJsonAsync("/v1/organizations", new { name = "Org" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        using var owner = app.ClientAs(new CallerIdentity(CallerKind.Session, organization, [], Roles.Owner, user));
        var project = (await (await owner.PostAsJsonAsync("/v1/projects", new { name = "p" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        return (user, organization, project);
    }

    private static string Error(JsonElement body) => body.GetProperty("error").GetString()!;

    [Fact]
    public async Task Verify_Rs256Session_AnswersRoleOrganizationAndProjects()
    {
        var (user, organization, project) = await NewOwnerAsync();

        var (status, body) = await app.VerifyAsync(app.Issuer.Mint(user), "export");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("session", body.GetProperty("kind").GetString());
        Assert.Equal(user, body.GetProperty("subject").GetString());
        Assert.Equal("owner", body.GetProperty("role").GetString());
        Assert.Equal(organization.ToString(), body.GetProperty("organizationId").GetString());
        Assert.Equal([project.ToString()], body.GetProperty("projectIds").EnumerateArray().Select(p => p.GetString()));
        Assert.True(body.GetProperty("expiresAt").GetDateTimeOffset() > DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task Verify_Es256Session_IsAccepted()
    {
        var (user, _, _) = await NewOwnerAsync();

        var (status, _) = await app.VerifyAsync(app.Issuer.Mint(user, app.Issuer.EcKey, SecurityAlgorithms.EcdsaSha256), "export");

        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task Verify_ExpiredSession_Is401SayingExpired()
    {
        var (user, _, _) = await NewOwnerAsync();
        var token = app.Issuer.Mint(user, expires: DateTimeOffset.UtcNow.AddMinutes(-5), notBefore: DateTimeOffset.UtcNow.AddMinutes(-10));

        var (status, body) = await app.VerifyAsync(token, "export");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("expired", Error(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_ExpiredWithinClockSkew_IsAccepted()
    {
        var (user, _, _) = await NewOwnerAsync();
        var token = app.Issuer.Mint(user, expires: DateTimeOffset.UtcNow.AddSeconds(-10), notBefore: DateTimeOffset.UtcNow.AddMinutes(-10));

        var (status, _) = await app.VerifyAsync(token, "export");

        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task Verify_NotYetValidBeyondClockSkew_Is401()
    {
        var (user, _, _) = await NewOwnerAsync();
        var token = app.Issuer.Mint(user, notBefore: DateTimeOffset.UtcNow.AddMinutes(5), expires: DateTimeOffset.UtcNow.AddMinutes(20));

        var (status, body) = await app.VerifyAsync(token, "export");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("not valid before", Error(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_WrongIssuer_Is401NamingTheIssuer()
    {
        var (user, _, _) = await NewOwnerAsync();

        var (status, body) = await app.VerifyAsync(app.Issuer.Mint(user, issuer: "https://evil.test"), "export");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("issuer 'https://evil.test' is not accepted", Error(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_WrongAudience_Is401NamingTheAudience()
    {
        var (user, _, _) = await NewOwnerAsync();

        var (status, body) = await app.VerifyAsync(app.Issuer.Mint(user, audience: "another-app"), "export");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("audience 'another-app' is not accepted", Error(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_AlgNone_Is401()
    {
        var (user, _, _) = await NewOwnerAsync();

        var (status, body) = await app.VerifyAsync(TestIssuer.MintUnsigned(user), "export");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("alg 'none' are not accepted", Error(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_Hs256SignedWithThePublicKey_Is401()
    {
        var (user, _, _) = await NewOwnerAsync();

        var (status, body) = await app.VerifyAsync(app.Issuer.MintWithPublicKeyAsHmacSecret(user), "export");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("alg 'HS256' are not accepted", Error(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_SignedByAKeyTheIssuerDoesNotPublish_Is401()
    {
        var (user, _, _) = await NewOwnerAsync();
        var stranger = new RsaSecurityKey(System.Security.Cryptography.RSA.Create(2048)) { KeyId = app.Issuer.Rsa.KeyId };

        var (status, body) = await app.VerifyAsync(app.Issuer.Mint(user, stranger), "export");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("signature", Error(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_TamperedPayload_Is401()
    {
        var (user, _, _) = await NewOwnerAsync();
        var parts = app.Issuer.Mint("someone-else").Split('.');
        var genuine = app.Issuer.Mint(user).Split('.');

        var (status, _) = await app.VerifyAsync($"{genuine[0]}.{parts[1]}.{genuine[2]}", "export");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Theory]
    [InlineData("not-a-jwt")]
    [InlineData("a.b.c")]
    public async Task Verify_Garbage_Is401(string token)
    {
        var (status, body) = await app.VerifyAsync(token, "export");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("well-formed", Error(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_IssuerRotatedItsKey_NewKeyIsFetchedAndAccepted()
    {
        var (user, _, _) = await NewOwnerAsync();
        Assert.Equal(HttpStatusCode.OK, (await app.VerifyAsync(app.Issuer.Mint(user), "export")).Status);

        var rotated = app.Issuer.Rotate("rsa-" + Guid.NewGuid().ToString("N")[..6]);
        await Task.Delay(TimeSpan.FromSeconds(1.1)); // past the configured refresh floor of 1 s

        var (status, body) = await app.VerifyAsync(app.Issuer.Mint(user, rotated), "export");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
    }

    [Fact]
    public async Task Verify_ManyUnknownKeyIds_FetchTheJwksAtMostOncePerRefreshFloor()
    {
        var (user, _, _) = await NewOwnerAsync();
        using var stranger = System.Security.Cryptography.RSA.Create(2048);
        var tokens = Enumerable.Range(0, 50)
            .Select(i => app.Issuer.Mint(user, new RsaSecurityKey(stranger) { KeyId = "made-up-" + i }))
            .ToList();
        await app.VerifyAsync(app.Issuer.Mint(user), "export");
        var before = app.Issuer.JwksRequests;
        var clock = System.Diagnostics.Stopwatch.StartNew();

        foreach (var token in tokens)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await app.VerifyAsync(token, "export")).Status);
        }

        // The floor is 1 s (AuthApp): one fetch per second that passed, plus one at the start.
        var windows = (int)Math.Ceiling(clock.Elapsed.TotalSeconds) + 1;
        Assert.InRange(app.Issuer.JwksRequests - before, 0, windows);
        Assert.True(tokens.Count > windows, $"the check needs more tokens than refresh windows ({windows})");
    }

    [Fact]
    public async Task Verify_UserInNoOrganization_PassesSignedInButNotExport()
    {
        var user = "loner_" + Guid.NewGuid().ToString("N")[..8];
        var token = app.Issuer.Mint(user);

        var (signedIn, principal) = await app.VerifyAsync(token, "signed-in");
        Assert.Equal(HttpStatusCode.OK, signedIn);
        Assert.Equal(JsonValueKind.Null, principal.GetProperty("organizationId").ValueKind);
        Assert.Equal(JsonValueKind.Null, principal.GetProperty("role").ValueKind);

        var (export, refusal) = await app.VerifyAsync(token, "export");
        Assert.Equal(HttpStatusCode.Forbidden, export);
        Assert.Contains("not a member of any organization", Error(refusal), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("viewer", "ingest", HttpStatusCode.Forbidden)]
    [InlineData("member", "ingest", HttpStatusCode.OK)]
    [InlineData("viewer", "export", HttpStatusCode.OK)]
    [InlineData("viewer", "organization-write", HttpStatusCode.Forbidden)]
    [InlineData("member", "organization-admin", HttpStatusCode.Forbidden)]
    [InlineData("owner", "organization-admin", HttpStatusCode.OK)]
    public async Task Verify_RoleAgainstPolicy_FollowsTheAllowlist(string role, string policy, HttpStatusCode expected)
    {
        var (owner, organization, _) = await NewOwnerAsync();
        var user = role == "owner" ? owner : "user_" + Guid.NewGuid().ToString("N")[..8];
        if (role != "owner")
        {
            using var client = app.ClientAs(new CallerIdentity(CallerKind.Session, organization, [], Roles.Owner, owner));
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/v1/members", new { userId = user, role })).StatusCode);
        }

        var (status, body) = await app.VerifyAsync(app.Issuer.Mint(user), policy);

        Assert.True(expected == status, body.ToString());
        if (expected == HttpStatusCode.Forbidden)
        {
            Assert.Contains($"role '{role}'", Error(body), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Verify_SessionNamingOneOfItsOrganizations_ActsInThatOne()
    {
        var (user, first, _) = await NewOwnerAsync();
        using var signedIn = app.ClientAs(new CallerIdentity(CallerKind.Session, Guid.Empty, [], Subject: user));
        var second = (await (await signedIn.PostAsJsonAsync("/v1/organizations", new { name = "Second" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();

        var (_, byDefault) = await app.VerifyAsync(app.Issuer.Mint(user), "export");
        var (_, named) = await app.VerifyAsync(app.Issuer.Mint(user, organization: second), "export");

        Assert.Equal(first.ToString(), byDefault.GetProperty("organizationId").GetString());
        Assert.Equal(second.ToString(), named.GetProperty("organizationId").GetString());
    }
}
