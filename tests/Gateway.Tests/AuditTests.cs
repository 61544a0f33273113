using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Trulayer.Gateway.Tests;

/// <summary>
/// Calls other services serve are recorded in Auth.Api's audit log by the gateway (README, "Audit log"):
/// an intent before forwarding (not recorded: 503, nothing forwarded) and the outcome after; ingest never.
/// Each test has a tenant (an organization) of its own, so its chain holds only what the test did.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class AuditTests(GatewayStack stack)
{
    private const string Window = "from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z";

    [Theory]
    [InlineData("/v1/otlp/export", "export.traces")]
    [InlineData("/v1/otlp/export/logs", "export.logs")]
    public async Task ExportPage_IsRecorded_IntentBeforeOutcome_WithActorRouteStatusAndCorrelationId(string path, string action)
    {
        var tenant = await stack.NewTenantAsync();
        var correlationId = "audit-" + Guid.NewGuid().ToString("N");

        using var page = await stack.SendAsync(HttpMethod.Get, $"{path}?{Window}&project_id={tenant.Project}", tenant.Session, configure: request =>
        {
            request.Headers.Add("X-Correlation-Id", correlationId);
            // From 127.0.0.1, a trusted proxy in this stack: the client is the address it names.
            request.Headers.Add("X-Forwarded-For", "203.0.113.7");
        });
        var body = await page.Content.ReadAsStringAsync();
        Assert.True(page.StatusCode == HttpStatusCode.OK, $"{(int)page.StatusCode} {body}");

        var entries = await EventuallyEntriesAsync(tenant, action, count: 2);
        var (outcome, intent) = (entries[0], entries[1]);
        Assert.Equal(["outcome", "intent"], entries.Select(e => e.GetProperty("phase").GetString()));
        Assert.True(outcome.GetProperty("sequence").GetInt64() == intent.GetProperty("sequence").GetInt64() + 1, "the outcome follows its intent in the chain");
        foreach (var entry in entries)
        {
            Assert.Equal("export", entry.GetProperty("source").GetString());
            Assert.Equal("session", entry.GetProperty("actor").GetProperty("kind").GetString());
            Assert.Equal(tenant.User, entry.GetProperty("actor").GetProperty("id").GetString());
            Assert.Equal("owner", entry.GetProperty("actor").GetProperty("role").GetString());
            Assert.Equal(tenant.Project.ToString(), entry.GetProperty("projectId").GetString());
            Assert.Equal("GET", entry.GetProperty("method").GetString());
            Assert.Equal(path, entry.GetProperty("route").GetString());
            Assert.Equal(correlationId, entry.GetProperty("correlationId").GetString());
            Assert.Equal("203.0.113.7", entry.GetProperty("clientAddress").GetString());
        }

        Assert.Equal(JsonValueKind.Null, intent.GetProperty("status").ValueKind);
        Assert.Equal((int)page.StatusCode, outcome.GetProperty("status").GetInt32());
        var verified = await stack.SendJsonAsync(HttpMethod.Get, "/v1/audit-log/verify", tenant.Session, null, HttpStatusCode.OK);
        Assert.True(verified.GetProperty("verified").GetBoolean());
    }

    [Fact]
    public async Task RefusedExportPage_IsRecordedWithTheUpstreamStatus()
    {
        var tenant = await stack.NewTenantAsync();

        // Export.Api refuses a page without its time window (400): the call was made, and its outcome says so.
        using var page = await stack.SendAsync(HttpMethod.Get, $"/v1/otlp/export?project_id={tenant.Project}", tenant.Session);
        Assert.Equal(HttpStatusCode.BadRequest, page.StatusCode);

        var entries = await EventuallyEntriesAsync(tenant, "export.traces", count: 2);
        Assert.Equal(400, entries[0].GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task ExportPage_WhoseIntentCannotBeRecorded_Is503_AndNothingIsForwarded()
    {
        var tenant = await stack.NewTenantAsync();
        var path = $"/v1/otlp/export?{Window}&project_id={tenant.Project}";

        // Another appender holds the organization's audit chain (Auth.Api's advisory lock, README "The chain")
        // past Auth:Audit:LockTimeout (1 s in this stack): Auth.Api cannot append the intent.
        await using var holder = await NpgsqlDataSource.Create(stack.Setting("auth", "ConnectionStrings__trulayer")).OpenConnectionAsync();
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock($1)", holder))
        {
            take.Parameters.Add(new() { Value = AuditLockKey(tenant.Organization) });
            await take.ExecuteNonQueryAsync();
        }

        HttpResponseMessage refused;
        try
        {
            refused = await stack.SendAsync(HttpMethod.Get, path, tenant.Session);
        }
        finally
        {
            await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", holder);
            release.Parameters.Add(new() { Value = AuditLockKey(tenant.Organization) });
            await release.ExecuteNonQueryAsync();
        }

        using (refused)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
            Assert.Contains("nothing was forwarded", await GatewayStack.ErrorAsync(refused), StringComparison.Ordinal);
            var correlationId = refused.Headers.GetValues("X-Correlation-Id").Single();
            await GatewayStack.Eventually(() => stack.Log.Lines.Any(line => line.StartsWith("gateway", StringComparison.Ordinal)
                && line.Contains("The audit intent of export.traces", StringComparison.Ordinal) && line.Contains(correlationId, StringComparison.Ordinal)));
        }

        // The same page again, now recorded and forwarded. Export.Api logs each request it starts (this stack
        // turns its hosting log on), in order: once this one's line is there, a forwarded first one would be too.
        using var retried = await stack.SendAsync(HttpMethod.Get, path, tenant.Session);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        await GatewayStack.Eventually(() => ExportRequestsFor(tenant.Project) >= 1);
        Assert.Equal(1, ExportRequestsFor(tenant.Project));

        var entries = await EventuallyEntriesAsync(tenant, "export.traces", count: 2);
        Assert.Equal(["outcome", "intent"], entries.Select(e => e.GetProperty("phase").GetString()));
        Assert.All(entries, e => Assert.Equal(retried.Headers.GetValues("X-Correlation-Id").Single(), e.GetProperty("correlationId").GetString()));
    }

    [Fact]
    public async Task Ingest_RecordsNothing()
    {
        var tenant = await stack.NewTenantAsync();
        var before = await EntriesAsync(tenant, null);

        using var spans = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", tenant.ApiKey, GatewayStack.OtlpJson());
        using var logs = await stack.SendAsync(HttpMethod.Post, $"/v1/otlp/logs?project_id={tenant.Project}", tenant.Session, GatewayStack.OtlpJson());
        using var trace = await stack.SendAsync(HttpMethod.Get, $"/v1/traces/{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}?project_id={tenant.Project}", tenant.Session);
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.NotFound], [spans.StatusCode, logs.StatusCode, trace.StatusCode]);

        // A marker audited after them: once it is in the log, anything they recorded would be too.
        using var marker = await stack.SendAsync(HttpMethod.Get, $"/v1/otlp/export?{Window}&project_id={tenant.Project}", tenant.Session);
        Assert.Equal(HttpStatusCode.OK, marker.StatusCode);
        await EventuallyEntriesAsync(tenant, "export.traces", count: 2);
        var after = await EntriesAsync(tenant, null);
        Assert.Equal(
            [.. before.Select(e => e.GetProperty("action").GetString()).Prepend("export.traces").Prepend("export.traces")],
            after.Select(e => e.GetProperty("action").GetString()));
    }

    [Fact]
    public async Task ProcessorChanges_AreRecordedWithTheirTarget_ModelPricesAndDeadLetters()
    {
        var tenant = await stack.NewTenantAsync();
        var model = "audit-model-" + Guid.NewGuid().ToString("N")[..8];
        var missing = Guid.NewGuid();

        await stack.SendJsonAsync(HttpMethod.Put, $"/v1/model-prices/{model}", tenant.Session, new { input = 1.5, output = 3 }, HttpStatusCode.Created);
        await stack.SendJsonAsync(HttpMethod.Delete, $"/v1/model-prices/{model}", tenant.Session, null, HttpStatusCode.NoContent);
        await stack.SendJsonAsync(HttpMethod.Post, $"/v1/dlq/{missing}/replay", tenant.Session, null, HttpStatusCode.NotFound);
        await stack.SendJsonAsync(HttpMethod.Post, $"/v1/dlq/{missing}/discard", tenant.Session, null, HttpStatusCode.NotFound);

        foreach (var (action, target, status, route) in new[]
        {
            ("model_prices.put", model, 201, "/v1/model-prices/{model}"),
            ("model_prices.delete", model, 204, "/v1/model-prices/{model}"),
            ("dlq.replay", missing.ToString(), 404, "/v1/dlq/{id}/replay"),
            ("dlq.discard", missing.ToString(), 404, "/v1/dlq/{id}/discard"),
        })
        {
            var entries = await EventuallyEntriesAsync(tenant, action, count: 2);
            Assert.Equal(["outcome", "intent"], entries.Select(e => e.GetProperty("phase").GetString()));
            Assert.All(entries, e => Assert.Equal(("processor", target, route), (e.GetProperty("source").GetString(), e.GetProperty("targetId").GetString(), e.GetProperty("route").GetString())));
            Assert.Equal(status, entries[0].GetProperty("status").GetInt32());
        }
    }

    [Fact]
    public void AuditedRoutes_AreTheBulkReadsOfSpanContentAndTheProcessorsChanges_NeverIngest()
    {
        Assert.Equal(["otlp-export", "otlp-export-logs", "dlq-replay", "dlq-discard", "model-price-put", "model-price-delete"], GatewayRoutes.All.Where(r => r.Audit is not null).Select(r => r.Id));
        Assert.Equal(["dlq.replay", "dlq.discard", "model_prices.put", "model_prices.delete"], GatewayRoutes.All.Where(r => r.Cluster == "processor" && r.Audit is not null).Select(r => r.Audit));
        // Auth.Api's rule for an action (lowercase words of letters, digits and '_', joined by dots): another is refused, and so is the call.
        Assert.All(GatewayRoutes.All.Where(r => r.Audit is not null), r => Assert.Matches("^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$", r.Audit!));
        Assert.All(GatewayRoutes.All.Where(r => r.Policy == GatewayRoutes.IngestPolicy), r => Assert.Null(r.Audit));
        Assert.Equal("traceId", GatewayRoutes.Get("trace").TargetParameter);
        Assert.Equal("traceId", GatewayRoutes.Get("trace-logs").TargetParameter);
        Assert.Null(GatewayRoutes.Get("otlp-export").TargetParameter);
        Assert.Null(GatewayRoutes.Get("members").TargetParameter);
        Assert.Equal("id", new GatewayRoute("dlq-replay", "POST", "/v1/dlq/{id}/replay", "processor", "signed-in", ErrorStyle.Json, Audit: "dlq.replay").TargetParameter);
    }

    /// <summary>Auth.Api's advisory lock key of an organization's chain, as README "The chain" defines it.</summary>
    private static long AuditLockKey(Guid organization)
        => BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes("trulayer.audit." + organization.ToString("D"))));

    /// <summary>Requests Export.Api started for <paramref name="project"/>, from its hosting log.</summary>
    private int ExportRequestsFor(Guid project)
        => stack.Log.Lines.Count(line => line.StartsWith("export", StringComparison.Ordinal)
                                         && line.Contains("Request starting", StringComparison.Ordinal)
                                         && line.Contains($"project_id={project}", StringComparison.Ordinal));

    private async Task<List<JsonElement>> EntriesAsync(Tenant tenant, string? action)
    {
        var page = await stack.SendJsonAsync(HttpMethod.Get, "/v1/audit-log" + (action is null ? "" : $"?action={action}"), tenant.Session, null, HttpStatusCode.OK);
        return [.. page.GetProperty("entries").EnumerateArray()];
    }

    /// <summary>The newest entries of <paramref name="action"/>, once there are <paramref name="count"/> (the outcome is written after the answer is relayed).</summary>
    private async Task<List<JsonElement>> EventuallyEntriesAsync(Tenant tenant, string action, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var entries = await EntriesAsync(tenant, action);
        while (entries.Count < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            entries = await EntriesAsync(tenant, action);
        }

        Assert.True(entries.Count == count, $"{entries.Count} entries of {action}, expected {count}");
        return entries;
    }
}
