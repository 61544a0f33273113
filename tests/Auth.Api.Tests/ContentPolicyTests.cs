using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.Tests;

/// <summary>A project's content policy: set by an owner, read by anyone in the organization, audited, and carried in the verdict ingest acts on.</summary>
public sealed class ContentPolicyTests(AuthApp app) : IClassFixture<AuthApp>
{
    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    private async Task<(CallerIdentity Owner, Guid Organization, Guid Project)> NewProjectAsync()
    {
        var (owner, organization) = await app.NewOrganizationAsync();
        using var client = app.ClientAs(owner);
        using var created = await client.PostAsJsonAsync("/v1/projects", new { name = "chat" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var project = (await JsonAsync(created)).GetProperty("id").GetGuid();
        return (owner with { ProjectIds = [project] }, organization, project);
    }

    [Fact]
    public async Task Default_IsStore_AndTheVerdictCarriesNoPolicy()
    {
        var (owner, _, project) = await NewProjectAsync();
        using var client = app.ClientAs(owner);

        var policy = await client.GetFromJsonAsync<JsonElement>($"/v1/projects/{project}/content-policy");

        Assert.Equal("store", policy.GetProperty("mode").GetString());
        Assert.Empty(policy.GetProperty("patterns").EnumerateArray());
        var key = await CreateKeyAsync(client, project);
        var (status, verdict) = await app.VerifyAsync(key, "ingest");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(verdict.TryGetProperty("contentPolicies", out var policies) && policies.ValueKind != JsonValueKind.Null);
    }

    [Fact]
    public async Task OwnerSetsRedact_ViewerReadsIt_TheVerdictsCarryIt_AndTheChangeIsAudited()
    {
        var (owner, organization, project) = await NewProjectAsync();
        using var asOwner = app.ClientAs(owner);
        var key = await CreateKeyAsync(asOwner, project);

        using var set = await asOwner.PutAsJsonAsync($"/v1/projects/{project}/content-policy", new { mode = "redact", patterns = new[] { "ACME-[0-9]{6}" } });

        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        var stored = await JsonAsync(set);
        Assert.Equal("redact", stored.GetProperty("mode").GetString());
        Assert.Equal(["ACME-[0-9]{6}"], stored.GetProperty("patterns").EnumerateArray().Select(p => p.GetString()));
        Assert.NotEmpty(stored.GetProperty("builtInPatterns").EnumerateArray());
        Assert.Equal(owner.Subject, stored.GetProperty("updatedBy").GetString());

        using var asViewer = app.ClientAs(new CallerIdentity(CallerKind.Session, organization, [project], Roles.Viewer, "viewer_" + Guid.NewGuid().ToString("N")[..6]));
        var read = await asViewer.GetFromJsonAsync<JsonElement>($"/v1/projects/{project}/content-policy");
        Assert.Equal("redact", read.GetProperty("mode").GetString());

        // The API key's verdict carries its project's policy; so does the owner's session verdict.
        var (status, verdict) = await app.VerifyAsync(key, "ingest");
        Assert.Equal(HttpStatusCode.OK, status);
        var keyPolicy = verdict.GetProperty("contentPolicies").GetProperty(project.ToString());
        Assert.Equal("redact", keyPolicy.GetProperty("mode").GetString());
        Assert.Equal("ACME-[0-9]{6}", keyPolicy.GetProperty("patterns")[0].GetString());
        (status, verdict) = await app.VerifyAsync(app.Issuer.Mint(owner.Subject!), "ingest");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("redact", verdict.GetProperty("contentPolicies").GetProperty(project.ToString()).GetProperty("mode").GetString());

        using var audit = await asOwner.GetAsync("/v1/audit-log");
        var entry = (await JsonAsync(audit)).GetProperty("entries").EnumerateArray().First();
        Assert.Equal("project.content_policy", entry.GetProperty("action").GetString());
        Assert.Equal(project.ToString(), entry.GetProperty("targetId").GetString());
    }

    [Fact]
    public async Task OnlyAnOwner_SetsIt()
    {
        var (owner, organization, project) = await NewProjectAsync();
        using var asMember = app.ClientAs(new CallerIdentity(CallerKind.Session, organization, [project], Roles.Member, "member_" + Guid.NewGuid().ToString("N")[..6]));

        using var refused = await asMember.PutAsJsonAsync($"/v1/projects/{project}/content-policy", new { mode = "drop" });

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using var asOwner = app.ClientAs(owner);
        var policy = await asOwner.GetFromJsonAsync<JsonElement>($"/v1/projects/{project}/content-policy");
        Assert.Equal("store", policy.GetProperty("mode").GetString());
    }

    [Theory]
    [InlineData("""{"mode": "forget"}""", "mode 'forget' is not known")]
    [InlineData("""{}""", "mode is required")]
    [InlineData("""{"mode": "drop", "patterns": ["x"]}""", "patterns apply only to mode 'redact'")]
    [InlineData("""{"mode": "redact", "patterns": ["(a)\\1"]}""", "patterns[0] is not a usable regular expression")]
    [InlineData("""{"mode": "redact", "patterns": ["ok", ""]}""", "patterns[1] must be 1 to 200 characters")]
    [InlineData("""{"mode": "redact", "patterns": ["[unclosed"]}""", "patterns[0] is not a usable regular expression")]
    public async Task BadPolicy_Is400NamingTheField(string body, string message)
    {
        var (owner, _, project) = await NewProjectAsync();
        using var client = app.ClientAs(owner);

        using var response = await client.PutAsync($"/v1/projects/{project}/content-policy", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, (await JsonAsync(response)).GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnotherOrganizationsProject_Is404()
    {
        var (_, _, project) = await NewProjectAsync();
        var (stranger, _) = await app.NewOrganizationAsync();
        using var client = app.ClientAs(stranger);

        using var read = await client.GetAsync($"/v1/projects/{project}/content-policy");
        using var set = await client.PutAsJsonAsync($"/v1/projects/{project}/content-policy", new { mode = "drop" });

        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, set.StatusCode);
    }

    private static async Task<string> CreateKeyAsync(HttpClient client, Guid project)
    {
        using var created = await client.PostAsJsonAsync("/v1/api-keys", new { name = "sdk", projectId = project });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await JsonAsync(created)).GetProperty("key").GetString()!;
    }
}
