using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.Tests;

public sealed class ApiKeyTests(AuthApp app) : IClassFixture<AuthApp>
{
    private async Task<(Guid Organization, Guid Project, CallerIdentity Owner)> NewOrganizationAsync()
    {
        var owner = "user_" + Guid.NewGuid().ToString("N")[..8];
        using var signedIn = app.ClientAs(new CallerIdentity(CallerKind.Session, Guid.Empty, [], Subject: owner));
        var organization = await (await signedIn.PostAsJsonAsync("/v1/organizations", new { name = "Acme" })).Content.ReadFromJsonAsync<JsonElement>();
        var organizationId = organization.GetProperty("id").GetGuid();
        var ownerIdentity = new CallerIdentity(CallerKind.Session, organizationId, [], Roles.Owner, owner);
        using var client = app.ClientAs(ownerIdentity);
        using var created = await client.PostAsJsonAsync("/v1/projects", new { name = "checkout" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var project = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        return (organizationId, project, ownerIdentity with { ProjectIds = [project] });
    }

    private async Task<JsonElement> CreateKeyAsync(CallerIdentity caller, Guid project, string name = "collector")
    {
        using var client = app.ClientAs(caller);
        using var response = await client.PostAsJsonAsync("/v1/api-keys", new { name, projectId = project.ToString() });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Create_ShowsTheSecretOnce_StoresOnlyItsHash()
    {
        var (_, project, owner) = await NewOrganizationAsync();

        var created = await CreateKeyAsync(owner, project);
        var secret = created.GetProperty("key").GetString()!;
        Assert.StartsWith("tl_", secret, StringComparison.Ordinal);
        Assert.Equal(ApiKeyFormat.Length, secret.Length);
        Assert.Equal(ApiKeyShape.Checksummed, ApiKeyFormat.Check(secret));
        Assert.Equal(secret[..11], created.GetProperty("prefix").GetString());
        Assert.Equal(project.ToString(), created.GetProperty("projectId").GetString());

        using var client = app.ClientAs(owner);
        var listed = await client.GetStringAsync("/v1/api-keys");
        Assert.DoesNotContain(secret, listed, StringComparison.Ordinal);
        Assert.DoesNotContain("\"key\"", listed, StringComparison.Ordinal);
        Assert.Contains(created.GetProperty("id").GetString()!, listed, StringComparison.Ordinal);

        await using var command = app.Database.DataSource.CreateCommand("SELECT secret_hash, lookup_prefix FROM auth.api_keys WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = created.GetProperty("id").GetGuid() });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(secret)), reader.GetFieldValue<byte[]>(0));
        Assert.Equal(secret[..11], reader.GetString(1));
    }

    [Fact]
    public async Task Verify_ValidKey_AnswersItsProjectAndOrganization()
    {
        var (organization, project, owner) = await NewOrganizationAsync();
        var created = await CreateKeyAsync(owner, project);

        var (status, body) = await app.VerifyAsync(created.GetProperty("key").GetString()!, "ingest");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("api_key", body.GetProperty("kind").GetString());
        Assert.Equal(organization.ToString(), body.GetProperty("organizationId").GetString());
        Assert.Equal([project.ToString()], body.GetProperty("projectIds").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal(created.GetProperty("id").GetString(), body.GetProperty("apiKeyId").GetString());
    }

    [Fact]
    public async Task Verify_RevokedKey_Is401SayingRevoked()
    {
        var (_, project, owner) = await NewOrganizationAsync();
        var created = await CreateKeyAsync(owner, project);
        using var client = app.ClientAs(owner);

        using var revoked = await client.DeleteAsync($"/v1/api-keys/{created.GetProperty("id").GetString()}");
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);

        var (status, body) = await app.VerifyAsync(created.GetProperty("key").GetString()!, "ingest");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("revoked", body.GetProperty("error").GetString(), StringComparison.Ordinal);
        var listed = await client.GetFromJsonAsync<JsonElement>("/v1/api-keys");
        Assert.NotEqual(JsonValueKind.Null, listed.EnumerateArray().Single().GetProperty("revokedAt").ValueKind);
    }

    public static TheoryData<string, string> UnknownOrMalformedKeys() => new()
    {
        { "tl_short", "malformed" },
        { "tl_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", "malformed" },
        // The old format's length, with a last character 32 random bytes in base64url cannot end in.
        { "tl_" + new string('A', 42) + "B", "malformed" },
        { "tl_" + new string('A', 43), "not known" },
        { ApiKeyFormat.Generate(), "not known" },
        { WithTypo(ApiKeyFormat.Generate()), "checksum does not match" },
    };

    [Theory]
    [MemberData(nameof(UnknownOrMalformedKeys))]
    public async Task Verify_UnknownOrMalformedKey_Is401WithReason(string key, string reason)
    {
        var (status, body) = await app.VerifyAsync(key, "ingest");

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains(reason, body.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_KeyOfTheFormatBeforeChecksums_StillWorks()
    {
        var (_, project, _) = await NewOrganizationAsync();
        var legacy = "tl_" + System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var store = app.Factory.Services.GetRequiredService<ApiKeys.ApiKeyStore>();
        await store.SeedAsync(project, "issued before checksums", legacy, "someone", CancellationToken.None);

        var (status, body) = await app.VerifyAsync(legacy, "ingest");

        Assert.Equal(ApiKeyShape.Legacy, ApiKeyFormat.Check(legacy));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([project.ToString()], body.GetProperty("projectIds").EnumerateArray().Select(p => p.GetString()));
    }

    /// <summary>The key with one character of its secret changed, as a typo would.</summary>
    private static string WithTypo(string key) => key[..10] + (key[10] == 'x' ? 'y' : 'x') + key[11..];

    [Theory]
    [InlineData("export")]
    [InlineData("signed-in")]
    [InlineData("organization-read")]
    public async Task Verify_KeyOnSessionOnlyPolicy_Is403SayingASessionIsNeeded(string policy)
    {
        var (_, project, owner) = await NewOrganizationAsync();
        var created = await CreateKeyAsync(owner, project);

        var (status, body) = await app.VerifyAsync(created.GetProperty("key").GetString()!, policy);

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("dashboard session", body.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_ForProjectOfAnotherOrganization_Is404AndCreatesNothing()
    {
        var (_, _, ownerA) = await NewOrganizationAsync();
        var (_, projectB, ownerB) = await NewOrganizationAsync();
        using var client = app.ClientAs(ownerA);

        using var response = await client.PostAsJsonAsync("/v1/api-keys", new { name = "sneaky", projectId = projectB.ToString() });

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var clientB = app.ClientAs(ownerB);
        Assert.Empty((await clientB.GetFromJsonAsync<JsonElement>("/v1/api-keys")).EnumerateArray());
    }

    [Fact]
    public async Task RevokeAndList_KeyOfAnotherOrganization_IsNotFoundAndUnlisted()
    {
        var (_, _, ownerA) = await NewOrganizationAsync();
        var (_, projectB, ownerB) = await NewOrganizationAsync();
        var keyB = await CreateKeyAsync(ownerB, projectB);
        using var clientA = app.ClientAs(ownerA);

        using var revoke = await clientA.DeleteAsync($"/v1/api-keys/{keyB.GetProperty("id").GetString()}");

        Assert.Equal(HttpStatusCode.NotFound, revoke.StatusCode);
        Assert.Empty((await clientA.GetFromJsonAsync<JsonElement>("/v1/api-keys")).EnumerateArray());
        var (status, _) = await app.VerifyAsync(keyB.GetProperty("key").GetString()!, "ingest");
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Theory]
    [InlineData("""{"name": "k"}""", "projectId is required")]
    [InlineData("""{"name": "k", "projectId": "nope"}""", "not a project id")]
    [InlineData("""{"projectId": "00000000-0000-0000-0000-000000000001"}""", "name is required")]
    [InlineData("""{"name": """, "could not be read as the JSON expected")]
    [InlineData("""{"name": 5, "projectId": "00000000-0000-0000-0000-000000000001"}""", "could not be read as the JSON expected")]
    public async Task Create_BadBody_Is400SayingWhatToChange(string body, string message)
    {
        var (_, _, owner) = await NewOrganizationAsync();
        using var client = app.ClientAs(owner);

        using var response = await client.PostAsync("/v1/api-keys", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
    }
}
