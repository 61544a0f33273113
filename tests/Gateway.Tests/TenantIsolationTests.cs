using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Trulayer.Gateway.Tests;

/// <summary>A credential of project A (the dev project) never writes to or reads project B (another tenant's).</summary>
[Collection(GatewayCollection.Name)]
public sealed class TenantIsolationTests(GatewayStack stack)
{
    [Theory]
    [InlineData("/v1/otlp/traces")]
    [InlineData("/v1/otlp/v1/traces")]
    public async Task ApiKeyOfA_NamingProjectB_Is404AndNotForwarded(string path)
    {
        var b = await stack.NewTenantAsync();

        using var response = await stack.SendAsync(HttpMethod.Post, $"{path}?project_id={b.Project}", stack.Dev.ApiKey, GatewayStack.OtlpJson());

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains($"project {b.Project} not found for this API key", body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST", "/v1/otlp/traces")]
    [InlineData("GET", "/v1/otlp/export")]
    [InlineData("GET", "/v1/traces")]
    public async Task SessionOfA_NamingProjectB_Is404(string method, string path)
    {
        var b = await stack.NewTenantAsync();

        using var response = await stack.SendAsync(new HttpMethod(method), $"{path}?project_id={b.Project}", stack.Owner,
            method == "POST" ? GatewayStack.OtlpJson() : null);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task ApiKeyOfA_CannotReadAnything()
    {
        using var export = await stack.SendAsync(HttpMethod.Get, $"/v1/otlp/export?project_id={stack.DevProject}", stack.Dev.ApiKey);
        using var traces = await stack.SendAsync(HttpMethod.Get, "/v1/traces", stack.Dev.ApiKey);
        using var keys = await stack.SendAsync(HttpMethod.Get, "/v1/api-keys", stack.Dev.ApiKey);

        Assert.Equal([HttpStatusCode.Forbidden, HttpStatusCode.Forbidden, HttpStatusCode.Forbidden], [export.StatusCode, traces.StatusCode, keys.StatusCode]);
    }

    [Fact]
    public async Task OwnerOfA_CannotSeeOrRevokeKeysOfB()
    {
        var b = await stack.NewTenantAsync();

        var keysOfA = await stack.SendJsonAsync(HttpMethod.Get, "/v1/api-keys", stack.Owner, null, HttpStatusCode.OK);
        Assert.DoesNotContain(b.ApiKeyId.ToString(), keysOfA.EnumerateArray().Select(k => k.GetProperty("id").GetString()));
        Assert.All(keysOfA.EnumerateArray(), k => Assert.Equal(stack.Dev.ProjectId, k.GetProperty("projectId").GetString()));

        await stack.SendJsonAsync(HttpMethod.Delete, $"/v1/api-keys/{b.ApiKeyId}", stack.Owner, null, HttpStatusCode.NotFound);
        await stack.SendJsonAsync(HttpMethod.Get, $"/v1/api-keys?project_id={b.Project}", stack.Owner, null, HttpStatusCode.NotFound);
        await stack.SendJsonAsync(HttpMethod.Post, "/v1/api-keys", stack.Owner, new { name = "into b", projectId = b.Project.ToString() }, HttpStatusCode.NotFound);

        using var stillWorks = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", b.ApiKey, GatewayStack.OtlpJson());
        Assert.NotEqual(HttpStatusCode.Unauthorized, stillWorks.StatusCode);
    }

    [Fact]
    public async Task NewTenant_SeesOnlyTheirOwnOrganization()
    {
        var b = await stack.NewTenantAsync();

        var session = await stack.SendJsonAsync(HttpMethod.Get, "/v1/session", b.Session, null, HttpStatusCode.OK);
        var members = await stack.SendJsonAsync(HttpMethod.Get, "/v1/members", b.Session, null, HttpStatusCode.OK);

        Assert.Equal(b.Organization.ToString(), session.GetProperty("organization").GetProperty("id").GetString());
        Assert.Equal([b.Project.ToString()], session.GetProperty("projects").EnumerateArray().Select(p => p.GetProperty("id").GetString()));
        Assert.Equal([b.User], members.EnumerateArray().Select(m => m.GetProperty("userId").GetString()));
    }
}
