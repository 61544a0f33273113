using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.Tests;

public sealed class InternalApiTests(AuthApp app) : IClassFixture<AuthApp>
{
    [Theory]
    [InlineData(null)]
    [InlineData("wrong")]
    public async Task Verify_WithoutTheInternalKey_Is401(string? key)
    {
        using var client = app.Factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/verify") { Content = JsonContent.Create(new { credential = "tl_x", policy = "ingest" }) };
        if (key is not null)
        {
            request.Headers.Add("X-Trulayer-Internal-Key", key);
        }

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("internal", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_WithAnAssertionButNoInternalKey_Is401()
    {
        using var client = app.ClientAs(TestIdentity.Session(Roles.Owner, Guid.NewGuid(), Guid.NewGuid()));

        using var response = await client.PostAsJsonAsync("/v1/auth/verify", new { credential = "tl_x", policy = "ingest" });

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("tl_x", "nope", "policy 'nope' is not known")]
    [InlineData("", "ingest", "credential is required")]
    public async Task Verify_BadRequest_Is400SayingWhatToChange(string credential, string policy, string message)
    {
        var (status, body) = await app.VerifyAsync(credential, policy);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(message, body.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DevIssuerRoutes_WhenNotEnabled_DoNotExist()
    {
        using var client = app.Factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/dev/sessions");
        request.Headers.Add("X-Trulayer-Internal-Key", AuthApp.InternalKey);

        Assert.Equal(HttpStatusCode.NotFound, (await client.SendAsync(request)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/.well-known/jwks.json")).StatusCode);
    }

    [Theory]
    [InlineData("/v1/session")]
    [InlineData("/v1/projects")]
    [InlineData("/v1/api-keys")]
    [InlineData("/v1/members")]
    [InlineData("/v1/organizations")]
    public async Task ManagementRoute_CalledDirectlyWithoutAssertion_Is401(string path)
    {
        using var client = app.Factory.CreateClient();

        using var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("through the gateway", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ManagementRoute_WithAssertionSignedByAnotherKey_Is401()
    {
        var forger = new IdentityAssertionSigner(
            Microsoft.Extensions.Options.Options.Create(new IdentityOptions { AssertionKey = Convert.ToBase64String(new byte[32]) }),
            TimeProvider.System);
        using var client = app.Factory.CreateClient();
        client.DefaultRequestHeaders.Add(IdentityAssertion.HeaderName, forger.Sign(TestIdentity.Session(Roles.Owner, Guid.NewGuid())));

        using var response = await client.GetAsync("/v1/projects");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
