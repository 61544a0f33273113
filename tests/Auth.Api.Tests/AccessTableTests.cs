using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Trulayer.Auth.Access;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.Tests;

/// <summary>
/// The access table, row by row, against Auth.Api itself. The expectations are written out here, not
/// derived from the table, and the first test fails when the table gains a row this file lacks.
/// </summary>
public sealed class AccessTableTests(AuthApp app) : IClassFixture<AuthApp>
{
    /// <summary>Route -> the session roles allowed ("none": a signed-in person in no organization).</summary>
    public static readonly TheoryData<string, string[]> Rows = new()
    {
        { "GET /v1/session", ["owner", "member", "viewer", "none"] },
        { "GET /v1/organizations", ["owner", "member", "viewer", "none"] },
        { "POST /v1/organizations", ["owner", "member", "viewer", "none"] },
        { "GET /v1/projects", ["owner", "member", "viewer"] },
        { "POST /v1/projects", ["owner", "member"] },
        { "GET /v1/projects/{projectId}/content-policy", ["owner", "member", "viewer"] },
        { "PUT /v1/projects/{projectId}/content-policy", ["owner"] },
        { "GET /v1/api-keys", ["owner", "member", "viewer"] },
        { "POST /v1/api-keys", ["owner", "member"] },
        { "DELETE /v1/api-keys/{keyId}", ["owner", "member"] },
        { "GET /v1/members", ["owner", "member", "viewer"] },
        { "POST /v1/members", ["owner"] },
        { "PATCH /v1/members/{userId}", ["owner"] },
        { "DELETE /v1/members/{userId}", ["owner"] },
        { "GET /v1/audit-log", ["owner", "member", "viewer"] },
        { "GET /v1/audit-log/verify", ["owner"] },
    };

    [Fact]
    public void Table_HasExactlyTheRowsThisTestChecks()
        => Assert.Equal(Rows.Select(r => (string)r[0]).Order(), AccessTable.Routes.Select(r => r.ToString()).Order());

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task Route_AllowsExactlyItsRoles_AndNoApiKey(string route, string[] allowed)
    {
        var (owner, organization, project) = await NewOrganizationAsync();
        foreach (var role in new[] { "owner", "member", "viewer", "none", "api_key" })
        {
            var caller = await CallerAsync(role, owner, organization, project);
            var status = await CallAsync(route, caller, owner, organization, project);
            var expectedAllowed = allowed.Contains(role);
            Assert.True(
                expectedAllowed ? status is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden) : status == HttpStatusCode.Forbidden,
                $"{route} as {role}: {(int)status}, expected {(expectedAllowed ? "allowed" : "403")}");
        }
    }

    private async Task<(string Owner, Guid Organization, Guid Project)> NewOrganizationAsync()
    {
        var owner = "owner_" + Guid.NewGuid().ToString("N")[..8];
        using var signedIn = app.ClientAs(new CallerIdentity(CallerKind.Session, Guid.Empty, [], Subject: owner));
        var organization = (await (await signedIn.PostAsJsonAsync("/v1/organizations", new { name = "o" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        using var client = app.ClientAs(new CallerIdentity(CallerKind.Session, organization, [], Roles.Owner, owner));
        var project = (await (await client.PostAsJsonAsync("/v1/projects", new { name = "p" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        return (owner, organization, project);
    }

    private async Task<CallerIdentity> CallerAsync(string role, string owner, Guid organization, Guid project)
    {
        switch (role)
        {
            case "owner":
                return new CallerIdentity(CallerKind.Session, organization, [project], Roles.Owner, owner);
            case "none":
                return new CallerIdentity(CallerKind.Session, Guid.Empty, [], Subject: "loner_" + Guid.NewGuid().ToString("N")[..8]);
            case "api_key":
                return new CallerIdentity(CallerKind.ApiKey, organization, [project], ApiKeyId: Guid.NewGuid());
            default:
                var user = role + "_" + Guid.NewGuid().ToString("N")[..8];
                using (var client = app.ClientAs(new CallerIdentity(CallerKind.Session, organization, [project], Roles.Owner, owner)))
                {
                    Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/v1/members", new { userId = user, role })).StatusCode);
                }

                return new CallerIdentity(CallerKind.Session, organization, [project], role, user);
        }
    }

    /// <summary>Calls the route with a valid request, setting up what it acts on as the owner first.</summary>
    private async Task<HttpStatusCode> CallAsync(string route, CallerIdentity caller, string owner, Guid organization, Guid project)
    {
        using var asOwner = app.ClientAs(new CallerIdentity(CallerKind.Session, organization, [project], Roles.Owner, owner));
        using var client = app.ClientAs(caller);
        var unique = Guid.NewGuid().ToString("N")[..8];
        HttpResponseMessage response;
        switch (route)
        {
            case "POST /v1/organizations":
                response = await client.PostAsJsonAsync("/v1/organizations", new { name = "o" + unique });
                break;
            case "POST /v1/projects":
                response = await client.PostAsJsonAsync("/v1/projects", new { name = "p" + unique });
                break;
            case "GET /v1/projects/{projectId}/content-policy":
                response = await client.GetAsync($"/v1/projects/{project}/content-policy");
                break;
            case "PUT /v1/projects/{projectId}/content-policy":
                response = await client.PutAsJsonAsync($"/v1/projects/{project}/content-policy", new { mode = "redact" });
                break;
            case "POST /v1/api-keys":
                response = await client.PostAsJsonAsync("/v1/api-keys", new { name = "k", projectId = project.ToString() });
                break;
            case "DELETE /v1/api-keys/{keyId}":
                var key = await (await asOwner.PostAsJsonAsync("/v1/api-keys", new { name = "k", projectId = project.ToString() })).Content.ReadFromJsonAsync<JsonElement>();
                response = await client.DeleteAsync($"/v1/api-keys/{key.GetProperty("id").GetString()}");
                break;
            case "POST /v1/members":
                response = await client.PostAsJsonAsync("/v1/members", new { userId = "u" + unique, role = "viewer" });
                break;
            case "PATCH /v1/members/{userId}":
                await asOwner.PostAsJsonAsync("/v1/members", new { userId = "u" + unique, role = "viewer" });
                response = await client.PatchAsJsonAsync($"/v1/members/u{unique}", new { role = "member" });
                break;
            case "DELETE /v1/members/{userId}":
                await asOwner.PostAsJsonAsync("/v1/members", new { userId = "u" + unique, role = "viewer" });
                response = await client.DeleteAsync($"/v1/members/u{unique}");
                break;
            default:
                response = await client.GetAsync(route.Split(' ')[1]);
                break;
        }

        using (response)
        {
            Assert.True(response.StatusCode != HttpStatusCode.BadRequest, $"{route}: the test sent a bad request: {await response.Content.ReadAsStringAsync()}");
            return response.StatusCode;
        }
    }
}
