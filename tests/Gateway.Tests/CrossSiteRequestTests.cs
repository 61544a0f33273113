using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Trulayer.Gateway.Tests;

/// <summary>CSRF: a state-changing request authenticated by the session cookie must come from this site (or an allowed one).</summary>
[Collection(GatewayCollection.Name)]
public sealed class CrossSiteRequestTests(GatewayStack stack)
{
    private string OwnOrigin => stack.Gateway.GetLeftPart(UriPartial.Authority);

    private Task<HttpResponseMessage> CookieRequestAsync(HttpMethod method, string path, HttpContent? content, string? origin = null, string? referer = null)
        => stack.SendAsync(method, path, null, content, request =>
        {
            request.Headers.Add("Cookie", "__session=" + stack.Owner);
            if (origin is not null)
            {
                request.Headers.Add("Origin", origin);
            }

            if (referer is not null)
            {
                request.Headers.Referrer = new Uri(referer);
            }
        });

    private async Task<bool> ProjectExistsAsync(string name)
    {
        var projects = await stack.SendJsonAsync(HttpMethod.Get, "/v1/projects", stack.Owner, null, HttpStatusCode.OK);
        return projects.EnumerateArray().Any(p => p.GetProperty("name").GetString() == name);
    }

    [Fact]
    public async Task CookieWrite_FromTheGatewaysOwnOrigin_Passes()
    {
        var name = "same-site " + Guid.NewGuid().ToString("N")[..8];

        using var response = await CookieRequestAsync(HttpMethod.Post, "/v1/projects", JsonContent.Create(new { name }), origin: OwnOrigin);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.True(await ProjectExistsAsync(name));
    }

    [Fact]
    public async Task CookieWrite_RefererOfTheGatewaysOwnSite_Passes()
    {
        using var response = await CookieRequestAsync(HttpMethod.Post, "/v1/projects", JsonContent.Create(new { name = "referred " + Guid.NewGuid().ToString("N")[..8] }),
            referer: OwnOrigin + "/settings/projects");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task CookieWrite_FromAConfiguredOrigin_Passes()
    {
        using var response = await CookieRequestAsync(HttpMethod.Post, "/v1/projects", JsonContent.Create(new { name = "allowed " + Guid.NewGuid().ToString("N")[..8] }),
            origin: GatewayStack.AllowedDashboardOrigin);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task CrossSiteFormPost_WithTheCookie_403AndNothingChanged()
    {
        // What a page on another site makes the browser send: a form post, the cookie attached, its own Origin.
        var name = "forged " + Guid.NewGuid().ToString("N")[..8];
        var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["name"] = name });

        using var response = await CookieRequestAsync(HttpMethod.Post, "/v1/projects", form, origin: "https://attacker.example");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var error = await GatewayStack.ErrorAsync(response);
        Assert.Contains("cross-site request refused", error, StringComparison.Ordinal);
        Assert.Contains("https://attacker.example", error, StringComparison.Ordinal);
        Assert.False(await ProjectExistsAsync(name));
    }

    [Fact]
    public async Task CookieWrite_FromAnotherSitesReferer_403()
    {
        using var response = await CookieRequestAsync(HttpMethod.Post, "/v1/projects", JsonContent.Create(new { name = "forged" }),
            referer: "https://attacker.example/page");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("Referer 'https://attacker.example'", await GatewayStack.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("DELETE")]
    public async Task CookieWrite_WithoutOriginOrReferer_403SayingWhatToSend(string method)
    {
        using var response = await CookieRequestAsync(new HttpMethod(method), method == "POST" ? "/v1/projects" : $"/v1/api-keys/{Guid.NewGuid()}",
            method == "POST" ? JsonContent.Create(new { name = "anonymous" }) : null);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("needs an Origin or Referer header", await GatewayStack.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CookieWrite_OriginNull_403()
    {
        using var response = await CookieRequestAsync(HttpMethod.Post, "/v1/projects", JsonContent.Create(new { name = "sandboxed" }), origin: "null");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task CookieRead_FromAnotherSite_IsNotAWriteAndPasses()
    {
        using var response = await CookieRequestAsync(HttpMethod.Get, "/v1/projects", null, origin: "https://attacker.example");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task BearerWrite_FromAnotherSite_IsUnaffected()
    {
        using var response = await stack.SendAsync(HttpMethod.Post, "/v1/projects", stack.Owner, JsonContent.Create(new { name = "bearer " + Guid.NewGuid().ToString("N")[..8] }),
            request => request.Headers.Add("Origin", "https://attacker.example"));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }
}
