using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Trulayer.Auth.Tests;

/// <summary>The dashboard's local sign-in (POST/DELETE /v1/dev/session) with the dev issuer on.</summary>
public sealed class DevSignInTests(DevIssuerApp app) : IClassFixture<DevIssuerApp>
{
    [Theory]
    [InlineData("owner")]
    [InlineData("member")]
    [InlineData("viewer")]
    public async Task SignIn_AsASeededRole_SetsAnHttpOnlyLaxSessionCookieThatVerifiesWithThatRole(string role)
    {
        using var client = app.Factory.CreateClient();
        using var response = await client.PostAsJsonAsync("/v1/dev/session", new { role });

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("__session=", cookie, StringComparison.Ordinal);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", cookie, StringComparison.OrdinalIgnoreCase);
        var token = cookie["__session=".Length..cookie.IndexOf(';', StringComparison.Ordinal)];
        var (status, body) = await app.VerifyAsync(token, "export");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal(role, body.GetProperty("role").GetString());
        Assert.Equal($"dev-{role}", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("userId").GetString());
    }

    [Fact]
    public async Task SignIn_FromAHostOtherThanLocalhost_MarksTheCookieSecure()
    {
        using var client = app.Factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/dev/session") { Content = JsonContent.Create(new { role = "viewer" }) };
        request.Headers.Add("X-Forwarded-Host", "traces.example.com");
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("secure", Assert.Single(response.Headers.GetValues("Set-Cookie")), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task SignIn_WithARoleNobodyHas_Answers400NamingTheRoles()
    {
        using var client = app.Factory.CreateClient();
        using var response = await client.PostAsJsonAsync("/v1/dev/session", new { role = "admin" });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("owner, member, viewer", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task SignOut_ExpiresTheSessionCookie()
    {
        using var client = app.Factory.CreateClient();
        using var response = await client.DeleteAsync("/v1/dev/session");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith("__session=;", cookie, StringComparison.Ordinal);
        Assert.Contains("expires=Thu, 01 Jan 1970", cookie, StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>Without the dev issuer (every deployment), the dev sign-in does not exist.</summary>
public sealed class DevSignInOffTests(AuthApp app) : IClassFixture<AuthApp>
{
    [Theory]
    [InlineData("POST")]
    [InlineData("DELETE")]
    public async Task DevSession_WithTheDevIssuerOff_Answers404AndSetsNoCookie(string method)
    {
        using var client = app.Factory.CreateClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), "/v1/dev/session") { Content = JsonContent.Create(new { role = "owner" }) };
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("dev sign-in is off", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }
}
