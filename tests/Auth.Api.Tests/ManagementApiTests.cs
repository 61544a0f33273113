using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.Tests;

/// <summary>Organizations, projects and members, called as the gateway calls Auth.Api (with an assertion).</summary>
public sealed class ManagementApiTests(AuthApp app) : IClassFixture<AuthApp>
{
    private static string NewUser() => "user_" + Guid.NewGuid().ToString("N")[..8];

    private Task<(CallerIdentity Owner, Guid Organization)> NewOrganizationAsync() => app.NewOrganizationAsync();

    private static async Task<string> ErrorAsync(HttpResponseMessage response)
        => (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;

    [Fact]
    public async Task CreateOrganization_CreatorBecomesOwner()
    {
        var user = NewUser();
        using var signedIn = app.ClientAs(new CallerIdentity(CallerKind.Session, Guid.Empty, [], Subject: user));

        using var created = await signedIn.PostAsJsonAsync("/v1/organizations", new { name = "  Acme Corp  " });
        var organization = await created.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("Acme Corp", organization.GetProperty("name").GetString());
        Assert.Equal("owner", organization.GetProperty("role").GetString());
        var listed = await signedIn.GetFromJsonAsync<JsonElement>("/v1/organizations");
        Assert.Equal(organization.GetProperty("id").GetString(), listed.EnumerateArray().Single().GetProperty("id").GetString());
        var (status, body) = await app.VerifyAsync(app.Issuer.Mint(user), "organization-admin");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("owner", body.GetProperty("role").GetString());
    }

    [Fact]
    public async Task Session_WithoutOrganization_SaysSoAndListsNothing()
    {
        var user = NewUser();
        using var client = app.ClientAs(new CallerIdentity(CallerKind.Session, Guid.Empty, [], Subject: user));

        var session = await client.GetFromJsonAsync<JsonElement>("/v1/session");

        Assert.Equal(user, session.GetProperty("userId").GetString());
        Assert.Equal(JsonValueKind.Null, session.GetProperty("organization").ValueKind);
        Assert.Empty(session.GetProperty("projects").EnumerateArray());
        using var projects = await client.GetAsync("/v1/projects");
        Assert.Equal(HttpStatusCode.Forbidden, projects.StatusCode);
        Assert.Contains("not a member of any organization", await ErrorAsync(projects), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Projects_CreatedAndListed_OnlyInTheirOrganization()
    {
        var (ownerA, organizationA) = await NewOrganizationAsync();
        var (ownerB, _) = await NewOrganizationAsync();
        using var clientA = app.ClientAs(ownerA);
        using var clientB = app.ClientAs(ownerB);

        using var created = await clientA.PostAsJsonAsync("/v1/projects", new { name = "checkout" });
        using var duplicate = await clientA.PostAsJsonAsync("/v1/projects", new { name = "checkout" });
        using var sameNameElsewhere = await clientB.PostAsJsonAsync("/v1/projects", new { name = "checkout" });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.Equal(HttpStatusCode.Created, sameNameElsewhere.StatusCode);
        var project = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        var listedA = await clientA.GetFromJsonAsync<JsonElement>("/v1/projects");
        Assert.Equal([project], listedA.EnumerateArray().Select(p => p.GetProperty("id").GetString()));
        var session = await clientA.GetFromJsonAsync<JsonElement>("/v1/session");
        Assert.Equal(organizationA.ToString(), session.GetProperty("organization").GetProperty("id").GetString());
        Assert.Equal([project], session.GetProperty("projects").EnumerateArray().Select(p => p.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task Members_AddListChangeRemove()
    {
        var (owner, _) = await NewOrganizationAsync();
        using var client = app.ClientAs(owner);
        var user = NewUser();

        using var added = await client.PostAsJsonAsync("/v1/members", new { userId = user, role = "viewer" });
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        using var again = await client.PostAsJsonAsync("/v1/members", new { userId = user, role = "member" });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);

        using var changed = await client.PatchAsJsonAsync($"/v1/members/{user}", new { role = "member" });
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.Equal("member", (await changed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("role").GetString());
        var members = await client.GetFromJsonAsync<JsonElement>("/v1/members");
        Assert.Equal(
            [(owner.Subject, "owner"), (user, "member")],
            members.EnumerateArray().Select(m => (m.GetProperty("userId").GetString(), m.GetProperty("role").GetString())));

        using var removed = await client.DeleteAsync($"/v1/members/{user}");
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        using var removedAgain = await client.DeleteAsync($"/v1/members/{user}");
        Assert.Equal(HttpStatusCode.NotFound, removedAgain.StatusCode);
        var (status, _) = await app.VerifyAsync(app.Issuer.Mint(user), "export");
        Assert.Equal(HttpStatusCode.Forbidden, status);
    }

    [Fact]
    public async Task Members_TheLastOwner_CannotBeDemotedOrRemoved()
    {
        var (owner, _) = await NewOrganizationAsync();
        using var client = app.ClientAs(owner);

        using var demoted = await client.PatchAsJsonAsync($"/v1/members/{owner.Subject}", new { role = "member" });
        using var removed = await client.DeleteAsync($"/v1/members/{owner.Subject}");

        Assert.Equal(HttpStatusCode.Conflict, demoted.StatusCode);
        Assert.Contains("only owner", await ErrorAsync(demoted), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Conflict, removed.StatusCode);

        var second = NewUser();
        await client.PostAsJsonAsync("/v1/members", new { userId = second, role = "owner" });
        using var demotedNow = await client.PatchAsJsonAsync($"/v1/members/{owner.Subject}", new { role = "member" });
        Assert.Equal(HttpStatusCode.OK, demotedNow.StatusCode);
    }

    [Fact]
    public async Task Members_OfAnotherOrganization_AreNotFound()
    {
        var (ownerA, _) = await NewOrganizationAsync();
        var (ownerB, _) = await NewOrganizationAsync();
        using var clientA = app.ClientAs(ownerA);

        using var changed = await clientA.PatchAsJsonAsync($"/v1/members/{ownerB.Subject}", new { role = "viewer" });
        using var removed = await clientA.DeleteAsync($"/v1/members/{ownerB.Subject}");

        Assert.Equal(HttpStatusCode.NotFound, changed.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, removed.StatusCode);
        var (status, body) = await app.VerifyAsync(app.Issuer.Mint(ownerB.Subject!), "organization-admin");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("owner", body.GetProperty("role").GetString());
    }

    [Theory]
    [InlineData("""{"userId": "u1", "role": "admin"}""", "'admin' is not known")]
    [InlineData("""{"userId": "u1"}""", "role is required")]
    [InlineData("""{"role": "member"}""", "userId is required")]
    public async Task AddMember_BadBody_Is400SayingWhatToChange(string body, string message)
    {
        var (owner, _) = await NewOrganizationAsync();
        using var client = app.ClientAs(owner);

        using var response = await client.PostAsync("/v1/members", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, await ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_WithoutJsonContentType_Is400SayingToSendJson()
    {
        var (owner, _) = await NewOrganizationAsync();
        using var client = app.ClientAs(owner);

        using var response = await client.PostAsync("/v1/projects", new StringContent("name=x"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("application/json", await ErrorAsync(response), StringComparison.Ordinal);
    }
}
