using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Trulayer.Auth.Audit;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.Tests;

/// <summary>
/// The audit log against the real service and PostgreSQL: every change Auth.Api serves writes its entry
/// in the same transaction (and a change that fails writes none), the chain verifies and shows an entry
/// altered behind the service's back, the database refuses updates and deletes, and two replicas append
/// to one organization's chain without a gap or a duplicate.
/// </summary>
public sealed class AuditLogTests(AuthApp app) : IClassFixture<AuthApp>
{
    private static string NewUser() => "user_" + Guid.NewGuid().ToString("N")[..8];

    private Task<(CallerIdentity Owner, Guid Organization)> NewOrganizationAsync() => app.NewOrganizationAsync();

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    private async Task<List<JsonElement>> EntriesAsync(CallerIdentity caller, string query = "")
    {
        using var client = app.ClientAs(caller);
        using var response = await client.GetAsync("/v1/audit-log" + query);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return [.. (await JsonAsync(response)).GetProperty("entries").EnumerateArray()];
    }

    private async Task<JsonElement> VerifyAsync(CallerIdentity owner)
    {
        using var client = app.ClientAs(owner);
        using var response = await client.GetAsync("/v1/audit-log/verify");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await JsonAsync(response);
    }

    [Fact]
    public async Task EveryChange_WritesOneEntry_WithWhoWhatWhereAndTheRequest()
    {
        var (owner, organization) = await NewOrganizationAsync();
        using var client = app.ClientAs(owner);
        client.DefaultRequestHeaders.Add("X-Correlation-Id", "audit-test-1");
        client.DefaultRequestHeaders.Add("X-Forwarded-For", "203.0.113.7");
        var user = NewUser();

        using var project = await client.PostAsJsonAsync("/v1/projects", new { name = "checkout" });
        var projectId = (await JsonAsync(project)).GetProperty("id").GetString()!;
        using var key = await client.PostAsJsonAsync("/v1/api-keys", new { name = "collector", projectId });
        var keyBody = await JsonAsync(key);
        var keyId = keyBody.GetProperty("id").GetString()!;
        using var revoked = await client.DeleteAsync($"/v1/api-keys/{keyId}");
        using var added = await client.PostAsJsonAsync("/v1/members", new { userId = user, role = "viewer" });
        using var changed = await client.PatchAsJsonAsync($"/v1/members/{user}", new { role = "member" });
        using var removed = await client.DeleteAsync($"/v1/members/{user}");
        Assert.All(new[] { project, key, revoked, added, changed, removed }, r => Assert.True(r.IsSuccessStatusCode, r.StatusCode.ToString()));

        var entries = await EntriesAsync(owner);

        Assert.Equal(
            ["member.remove", "member.change_role", "member.add", "api_key.revoke", "api_key.create", "project.create", "organization.create"],
            entries.Select(e => e.GetProperty("action").GetString()));
        Assert.Equal([7L, 6, 5, 4, 3, 2, 1], entries.Select(e => e.GetProperty("sequence").GetInt64()));
        Assert.Equal([204, 200, 201, 204, 201, 201, 201], entries.Select(e => e.GetProperty("status").GetInt32()));
        Assert.Equal(
            [user, user, user, keyId, keyId, projectId, organization.ToString()],
            entries.Select(e => e.GetProperty("targetId").GetString()));
        var keyCreated = entries[4];
        Assert.Equal("POST", keyCreated.GetProperty("method").GetString());
        Assert.Equal("/v1/api-keys", keyCreated.GetProperty("route").GetString());
        Assert.Equal(projectId, keyCreated.GetProperty("projectId").GetString());
        Assert.Equal("session", keyCreated.GetProperty("actor").GetProperty("kind").GetString());
        Assert.Equal(owner.Subject, keyCreated.GetProperty("actor").GetProperty("id").GetString());
        Assert.Equal("owner", keyCreated.GetProperty("actor").GetProperty("role").GetString());
        Assert.Equal("audit-test-1", keyCreated.GetProperty("correlationId").GetString());
        Assert.Equal("203.0.113.7", keyCreated.GetProperty("clientAddress").GetString());
        Assert.Equal("auth", keyCreated.GetProperty("source").GetString());
        Assert.Equal("done", keyCreated.GetProperty("phase").GetString());
        Assert.Equal("/v1/members/{userId}", entries[1].GetProperty("route").GetString());
        Assert.Equal("""{"role":"member","previousRole":"viewer"}""", entries[1].GetProperty("detail").GetString());
        Assert.Equal(entries[1].GetProperty("hash").GetString(), entries[0].GetProperty("previousHash").GetString());
        Assert.Equal(new string('0', 64), entries[6].GetProperty("previousHash").GetString());

        // Never a secret: the key itself appears nowhere in the log.
        using var raw = await client.GetAsync("/v1/audit-log");
        Assert.DoesNotContain(keyBody.GetProperty("key").GetString()!, await raw.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var verification = await VerifyAsync(owner);
        Assert.True(verification.GetProperty("verified").GetBoolean());
        Assert.Equal(7, verification.GetProperty("entries").GetInt64());
        Assert.Equal(entries[0].GetProperty("hash").GetString(), verification.GetProperty("head").GetProperty("hash").GetString());
    }

    [Fact]
    public async Task ChangesThatFail_LeaveNoEntry()
    {
        var (owner, organization) = await NewOrganizationAsync();
        var (otherOwner, _) = await NewOrganizationAsync();
        using var client = app.ClientAs(owner);
        using var other = app.ClientAs(otherOwner);
        var user = NewUser();
        using var project = await client.PostAsJsonAsync("/v1/projects", new { name = "checkout" });
        var otherProject = (await JsonAsync(await other.PostAsJsonAsync("/v1/projects", new { name = "theirs" }))).GetProperty("id").GetString();
        using var member = await client.PostAsJsonAsync("/v1/members", new { userId = user, role = "viewer" });
        var keyId = (await JsonAsync(await client.PostAsJsonAsync("/v1/api-keys", new { name = "k", projectId = (await JsonAsync(project)).GetProperty("id").GetString() }))).GetProperty("id").GetString();
        using var revoked = await client.DeleteAsync($"/v1/api-keys/{keyId}");
        var before = await EntriesAsync(owner);

        var failures = new List<HttpResponseMessage>
        {
            await client.PostAsJsonAsync("/v1/projects", new { name = "checkout" }),
            await client.PostAsJsonAsync("/v1/members", new { userId = user, role = "member" }),
            await client.PatchAsJsonAsync($"/v1/members/{owner.Subject}", new { role = "viewer" }),
            await client.DeleteAsync($"/v1/members/{owner.Subject}"),
            await client.DeleteAsync($"/v1/members/{NewUser()}"),
            await client.DeleteAsync($"/v1/api-keys/{Guid.NewGuid()}"),
            await client.PostAsJsonAsync("/v1/api-keys", new { name = "k", projectId = otherProject }),
            await client.PostAsJsonAsync("/v1/projects", new { name = "" }),
        };
        using var revokedAgain = await client.DeleteAsync($"/v1/api-keys/{keyId}");

        Assert.Equal(
            [HttpStatusCode.Conflict, HttpStatusCode.Conflict, HttpStatusCode.Conflict, HttpStatusCode.Conflict, HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.BadRequest],
            failures.Select(r => r.StatusCode));
        Assert.Equal(HttpStatusCode.NoContent, revokedAgain.StatusCode);
        var after = await EntriesAsync(owner);
        Assert.Equal(before.Select(e => e.GetProperty("id").GetString()), after.Select(e => e.GetProperty("id").GetString()));
        Assert.Equal(["api_key.revoke", "api_key.create", "member.add", "project.create", "organization.create"], after.Select(e => e.GetProperty("action").GetString()));
        failures.ForEach(r => r.Dispose());
        Assert.Equal(organization, owner.OrganizationId);
    }

    [Fact]
    public async Task Change_WhoseEntryCannotBeWritten_IsUndone_And503()
    {
        var (owner, organization) = await NewOrganizationAsync();
        using var client = app.ClientAs(owner);

        // Another appender holds the organization's chain past Auth:Audit:LockTimeout (5 s by default):
        // the project is inserted first, then its entry cannot be appended, so both are rolled back.
        await using var holder = await app.Database.DataSource.OpenConnectionAsync();
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock($1)", holder))
        {
            take.Parameters.Add(new() { Value = AuditLog.LockKey(organization) });
            await take.ExecuteNonQueryAsync();
        }

        using var refused = await client.PostAsJsonAsync("/v1/projects", new { name = "never" });

        await using (var release = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", holder))
        {
            release.Parameters.Add(new() { Value = AuditLog.LockKey(organization) });
            await release.ExecuteNonQueryAsync();
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
        Assert.Contains("nothing was changed", (await JsonAsync(refused)).GetProperty("error").GetString(), StringComparison.Ordinal);
        var projects = await client.GetFromJsonAsync<JsonElement>("/v1/projects");
        Assert.Empty(projects.EnumerateArray());
        Assert.Equal(["organization.create"], (await EntriesAsync(owner)).Select(e => e.GetProperty("action").GetString()));

        using var retried = await client.PostAsJsonAsync("/v1/projects", new { name = "never" });
        Assert.Equal(HttpStatusCode.Created, retried.StatusCode);
        Assert.True((await VerifyAsync(owner)).GetProperty("verified").GetBoolean());
    }

    [Theory]
    [InlineData("UPDATE auth.audit_log SET detail = 'rewritten' WHERE organization_id = $1")]
    [InlineData("DELETE FROM auth.audit_log WHERE organization_id = $1")]
    [InlineData("TRUNCATE auth.audit_log")]
    public async Task Database_RefusesUpdateDeleteAndTruncate(string sql)
    {
        var (owner, organization) = await NewOrganizationAsync();
        await using var command = app.Database.DataSource.CreateCommand(sql);
        if (sql.Contains("$1", StringComparison.Ordinal))
        {
            command.Parameters.Add(new() { Value = organization });
        }

        var refused = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());

        Assert.Contains("append-only", refused.MessageText, StringComparison.Ordinal);
        Assert.Single(await EntriesAsync(owner));
    }

    [Fact]
    public async Task Verify_FindsAnEntryAlteredInTheDatabase()
    {
        var (owner, organization) = await NewOrganizationAsync();
        using var client = app.ClientAs(owner);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/v1/projects", new { name = $"p{i}" })).StatusCode);
        }

        Assert.True((await VerifyAsync(owner)).GetProperty("verified").GetBoolean());
        await AsSuperuserBypassingTriggersAsync("UPDATE auth.audit_log SET target_id = 'someone-else' WHERE organization_id = $1 AND sequence = 3", organization);

        var verification = await VerifyAsync(owner);

        Assert.False(verification.GetProperty("verified").GetBoolean());
        var broken = verification.GetProperty("firstBroken");
        Assert.Equal(3, broken.GetProperty("sequence").GetInt64());
        Assert.Contains("altered", broken.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, verification.GetProperty("head").GetProperty("sequence").GetInt64());
    }

    [Fact]
    public async Task VerifyChainSql_AgreesWithTheService_OnAnIntactAndAnAlteredChain()
    {
        var (owner, organization) = await NewOrganizationAsync();
        using var client = app.ClientAs(owner);
        client.DefaultRequestHeaders.Add("X-Forwarded-For", "2001:db8::7");
        await client.PostAsJsonAsync("/v1/projects", new { name = "Zürich ✓" });
        await client.PostAsJsonAsync("/v1/members", new { userId = NewUser(), role = "viewer" });
        Assert.Equal(HttpStatusCode.Created, (await RecordAsync(new
        {
            organizationId = organization, source = "processor", phase = "outcome", actorKind = "api_key", actorId = Guid.NewGuid().ToString(),
            action = "dlq.discard", method = "POST", route = "/v1/dlq/{id}/discard", targetId = "42", status = 204,
        })).StatusCode);

        var intact = await RunVerifyChainSqlAsync(organization);
        await AsSuperuserBypassingTriggersAsync("UPDATE auth.audit_log SET status = 500 WHERE organization_id = $1 AND sequence = 4", organization);
        var altered = await RunVerifyChainSqlAsync(organization);

        Assert.Null(intact);
        Assert.Equal((4L, "its hash does not match its content"), altered);
        Assert.Equal(4, (await VerifyAsync(owner)).GetProperty("firstBroken").GetProperty("sequence").GetInt64());
    }

    private async Task<(long Sequence, string Reason)?> RunVerifyChainSqlAsync(Guid organization)
    {
        var sql = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "verify-chain.sql"));
        await using var command = app.Database.DataSource.CreateCommand(sql.Replace(":'org'", "$1", StringComparison.Ordinal));
        command.Parameters.Add(new() { Value = organization.ToString() });
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? (reader.GetInt64(0), reader.GetString(2)) : null;
    }

    [Fact]
    public async Task Verify_FindsARewrittenHashAndADeletedEntry()
    {
        var (owner, organization) = await NewOrganizationAsync();
        var (secondOwner, secondOrganization) = await NewOrganizationAsync();
        foreach (var caller in new[] { owner, secondOwner })
        {
            using var client = app.ClientAs(caller);
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/v1/projects", new { name = $"p{i}" })).StatusCode);
            }
        }

        // An entry altered with its hash recomputed to match: the next entry no longer links to it.
        await AsSuperuserBypassingTriggersAsync("UPDATE auth.audit_log SET hash = sha256(hash) WHERE organization_id = $1 AND sequence = 2", organization);
        await AsSuperuserBypassingTriggersAsync("DELETE FROM auth.audit_log WHERE organization_id = $1 AND sequence = 2", secondOrganization);

        var rewritten = (await VerifyAsync(owner)).GetProperty("firstBroken");
        var deleted = (await VerifyAsync(secondOwner)).GetProperty("firstBroken");

        Assert.Equal(2, rewritten.GetProperty("sequence").GetInt64());
        Assert.Equal(2, deleted.GetProperty("sequence").GetInt64());
        Assert.Contains("missing", deleted.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_IsTheCallersOrganizationOnly_NewestFirst_KeysetPaged()
    {
        var (owner, organization) = await NewOrganizationAsync();
        var (otherOwner, _) = await NewOrganizationAsync();
        using var client = app.ClientAs(owner);
        for (var i = 0; i < 4; i++)
        {
            await client.PostAsJsonAsync("/v1/projects", new { name = $"p{i}" });
        }

        var viewer = NewUser();
        await client.PostAsJsonAsync("/v1/members", new { userId = viewer, role = "viewer" });
        using var asViewer = app.ClientAs(new CallerIdentity(CallerKind.Session, organization, [], Roles.Viewer, viewer));

        var sequences = new List<long>();
        string? cursor = null;
        var pages = 0;
        do
        {
            using var page = await asViewer.GetAsync("/v1/audit-log?limit=2" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            sequences.AddRange((await JsonAsync(page)).GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("sequence").GetInt64()));
            cursor = page.Headers.TryGetValues("X-Next-Cursor", out var values) ? values.Single() : null;
            pages++;
        }
        while (cursor is not null);

        Assert.Equal([6L, 5, 4, 3, 2, 1], sequences);
        Assert.Equal(3, pages);
        Assert.Single(await EntriesAsync(otherOwner));
        Assert.Equal(4, (await EntriesAsync(owner, "?action=project.create")).Count);
        Assert.Equal(6, (await EntriesAsync(owner, $"?actor={owner.Subject}")).Count);
        Assert.Empty(await EntriesAsync(owner, $"?actor={viewer}"));
        var newest = DateTimeOffset.Parse((await EntriesAsync(owner))[0].GetProperty("occurredAt").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var from = Uri.EscapeDataString(newest.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal([6L], (await EntriesAsync(owner, $"?from={from}")).Select(e => e.GetProperty("sequence").GetInt64()));
        Assert.Equal(5, (await EntriesAsync(owner, $"?to={from}")).Count);
    }

    [Theory]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=1001", "limit")]
    [InlineData("?limit=ten", "limit")]
    [InlineData("?from=yesterday", "from")]
    [InlineData("?to=2026-12-06T19:00:00", "to")]
    [InlineData("?from=2026-12-06T19:00:00Z&to=2026-12-06T18:00:00Z", "from")]
    [InlineData("?action=Project%20Create", "action")]
    [InlineData("?cursor=abc", "cursor")]
    [InlineData("?limit=1&limit=2", "limit")]
    [InlineData("?project=x", "'project'")]
    public async Task List_BadParameter_Is400NamingIt(string query, string named)
    {
        var (owner, _) = await NewOrganizationAsync();
        using var client = app.ClientAs(owner);

        using var response = await client.GetAsync("/v1/audit-log" + query);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith(named, (await JsonAsync(response)).GetProperty("error").GetString()!.Replace("unknown parameter ", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("?from=2026-12-06T19:00:00Z")]
    [InlineData("?from=2026-12-06T20:00:00.123456789+01:00")]
    [InlineData("?from=2026-12-06T20:00:00.5%2B01:00&to=2999-01-01t00:00:00z")]
    public async Task List_Rfc3339Times_AreAccepted(string query)
    {
        var (owner, _) = await NewOrganizationAsync();

        Assert.Single(await EntriesAsync(owner, query));
    }

    [Fact]
    public async Task List_CursorOfAnotherQueryOrAltered_Is400()
    {
        var (owner, _) = await NewOrganizationAsync();
        using var client = app.ClientAs(owner);
        await client.PostAsJsonAsync("/v1/projects", new { name = "a" });
        using var first = await client.GetAsync("/v1/audit-log?limit=1");
        var cursor = first.Headers.GetValues("X-Next-Cursor").Single();
        var altered = cursor[..^2] + (cursor[^2] == 'A' ? 'B' : 'A') + cursor[^1];

        using var otherQuery = await client.GetAsync($"/v1/audit-log?limit=2&cursor={cursor}");
        using var alteredCursor = await client.GetAsync($"/v1/audit-log?limit=1&cursor={altered}");
        using var sameQuery = await client.GetAsync($"/v1/audit-log?limit=1&cursor={cursor}");

        Assert.Equal(HttpStatusCode.BadRequest, otherQuery.StatusCode);
        Assert.Contains("another query", (await JsonAsync(otherQuery)).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, alteredCursor.StatusCode);
        Assert.Contains("altered", (await JsonAsync(alteredCursor)).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, sameQuery.StatusCode);
        Assert.Equal(1, (await JsonAsync(sameQuery)).GetProperty("entries")[0].GetProperty("sequence").GetInt64());
    }

    private async Task<HttpResponseMessage> RecordAsync(object body, bool withKey = true)
    {
        using var client = app.Factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/audit") { Content = JsonContent.Create(body) };
        if (withKey)
        {
            request.Headers.Add("X-Trulayer-Internal-Key", AuthApp.InternalKey);
        }

        return await client.SendAsync(request);
    }

    [Fact]
    public async Task Internal_GatewayRecordsIntentAndOutcome_InTheSameChain()
    {
        var (owner, organization) = await NewOrganizationAsync();
        var project = Guid.NewGuid();
        var intent = new
        {
            organizationId = organization, source = "export", phase = "intent", actorKind = "session", actorId = owner.Subject, actorRole = "owner",
            projectId = project, action = "export.read", method = "GET", route = "/v1/otlp/export", correlationId = "gw-1", clientAddress = "2001:db8::1",
        };

        using var unkeyed = await RecordAsync(intent, withKey: false);
        using var recordedIntent = await RecordAsync(intent);
        using var recordedOutcome = await RecordAsync(new
        {
            organizationId = organization, source = "export", phase = "outcome", actorKind = "session", actorId = owner.Subject, actorRole = "owner",
            projectId = project, action = "export.read", method = "GET", route = "/v1/otlp/export", status = 200, correlationId = "gw-1", clientAddress = "2001:db8::1",
        });

        Assert.Equal(HttpStatusCode.Unauthorized, unkeyed.StatusCode);
        Assert.Equal(HttpStatusCode.Created, recordedIntent.StatusCode);
        Assert.Equal(HttpStatusCode.Created, recordedOutcome.StatusCode);
        Assert.Equal(3, (await JsonAsync(recordedOutcome)).GetProperty("sequence").GetInt64());
        var entries = await EntriesAsync(owner, "?action=export.read");
        Assert.Equal(["outcome", "intent"], entries.Select(e => e.GetProperty("phase").GetString()));
        Assert.Equal(200, entries[0].GetProperty("status").GetInt32());
        Assert.Equal(JsonValueKind.Null, entries[1].GetProperty("status").ValueKind);
        Assert.All(entries, e => Assert.Equal("gw-1", e.GetProperty("correlationId").GetString()));
        Assert.All(entries, e => Assert.Equal("2001:db8::1", e.GetProperty("clientAddress").GetString()));
        Assert.All(entries, e => Assert.Equal("export", e.GetProperty("source").GetString()));
        Assert.True((await VerifyAsync(owner)).GetProperty("verified").GetBoolean());
    }

    public static readonly TheoryData<string, string> BadRecords = new()
    {
        { """{"source": "export", "phase": "intent", "actorKind": "session", "actorId": "u", "action": "a.b", "method": "GET", "route": "/x"}""", "organizationId" },
        { """{"organizationId": "ORG", "source": "export", "phase": "later", "actorKind": "session", "actorId": "u", "action": "a.b", "method": "GET", "route": "/x"}""", "phase" },
        { """{"organizationId": "ORG", "source": "export", "phase": "intent", "actorKind": "session", "actorId": "u", "action": "a.b", "method": "GET", "route": "/x", "status": 200}""", "status" },
        { """{"organizationId": "ORG", "source": "export", "phase": "outcome", "actorKind": "session", "actorId": "u", "action": "a.b", "method": "GET", "route": "/x"}""", "status" },
        { """{"organizationId": "ORG", "source": "export", "phase": "intent", "actorKind": "robot", "actorId": "u", "action": "a.b", "method": "GET", "route": "/x"}""", "actorKind" },
        { """{"organizationId": "ORG", "source": "export", "phase": "intent", "actorKind": "session", "actorId": "u", "action": "A B", "method": "GET", "route": "/x"}""", "action" },
        { """{"organizationId": "ORG", "source": "export", "phase": "intent", "actorKind": "session", "actorId": "u", "action": "a.b", "method": "GET", "route": "/x", "clientAddress": "somewhere"}""", "clientAddress" },
        { """{"organizationId": "ORG", "source": "export", "phase": "intent", "actorKind": "session", "actorId": "u", "action": "a.b", "method": "GET", "route": "/x", "detail": "key tl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}""", "detail" },
        { """{"organizationId": "ORG", "source": "export", "phase": "intent", "actorKind": "session", "actorId": "u", "action": "a.b", "method": "GET", "route": "/x"}""", "" },
    };

    [Theory]
    [MemberData(nameof(BadRecords))]
    public async Task Internal_BadRecord_Is400NamingTheField_AndAppendsNothing(string body, string named)
    {
        var (owner, organization) = await NewOrganizationAsync();
        using var client = app.Factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/audit")
        {
            Content = new StringContent(body.Replace("ORG", organization.ToString(), StringComparison.Ordinal), System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Trulayer-Internal-Key", AuthApp.InternalKey);

        using var response = await client.SendAsync(request);

        if (named.Length == 0)
        {
            // The same body, well-formed: the control case.
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            Assert.Equal(2, (await EntriesAsync(owner)).Count);
            return;
        }

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith(named, (await JsonAsync(response)).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Single(await EntriesAsync(owner));
    }

    [Fact]
    public async Task TwoReplicas_AppendingAtOnce_KeepOneUnbrokenChain()
    {
        var (owner, organization) = await NewOrganizationAsync();
        await using var replica = app.StartReplica();
        using var first = app.ClientAs(owner);
        using var second = replica.CreateClient();
        second.DefaultRequestHeaders.Add(IdentityAssertion.HeaderName, TestIdentity.Sign(owner));
        const int PerReplica = 20;

        var calls = Enumerable.Range(0, PerReplica).SelectMany(i => new[]
        {
            first.PostAsJsonAsync("/v1/projects", new { name = $"first-{i}" }),
            second.PostAsJsonAsync("/v1/members", new { userId = $"second-{i}", role = "viewer" }),
        });
        var responses = await Task.WhenAll(calls);

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var sequences = new List<long>();
        await using (var command = app.Database.DataSource.CreateCommand("SELECT sequence FROM auth.audit_log WHERE organization_id = $1 ORDER BY sequence"))
        {
            command.Parameters.Add(new() { Value = organization });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                sequences.Add(reader.GetInt64(0));
            }
        }

        Assert.Equal(Enumerable.Range(1, 1 + 2 * PerReplica).Select(i => (long)i), sequences);
        var verification = await VerifyAsync(owner);
        Assert.True(verification.GetProperty("verified").GetBoolean(), verification.ToString());
        Assert.Equal(1 + 2 * PerReplica, verification.GetProperty("entries").GetInt64());
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    private async Task AsSuperuserBypassingTriggersAsync(string sql, Guid organization)
    {
        await using var connection = await app.Database.DataSource.OpenConnectionAsync();
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("SET session_replication_role = replica"),
                new NpgsqlBatchCommand(sql) { Parameters = { new() { Value = organization } } },
                new NpgsqlBatchCommand("SET session_replication_role = DEFAULT"),
            },
        };
        await batch.ExecuteNonQueryAsync();
    }
}
