using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Trulayer.Gateway.Tests;

public enum Outcome
{
    /// <summary>Passed the gateway and answered by the service behind it (management routes: a 2xx).</summary>
    Allowed,

    /// <summary>401.</summary>
    Unauthenticated,

    /// <summary>403.</summary>
    Forbidden,
}

/// <summary>
/// The role matrix of DESIGN.md and the issue, row by row, through the gateway of a running stack:
/// each public route called as the seeded owner, member and viewer, as an API key, and with no
/// credential. Allowed calls go all the way to the real service.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class RoleMatrixTests(GatewayStack stack)
{
    private const Outcome A = Outcome.Allowed;
    private const Outcome U = Outcome.Unauthenticated;
    private const Outcome F = Outcome.Forbidden;

    /// <summary>Row -> (gateway route id, expected for owner, member, viewer, API key, no credential).</summary>
    private static readonly Dictionary<string, (string RouteId, Outcome[] Expected)> Matrix = new()
    {
        ["POST /v1/otlp/traces"] = ("otlp-traces", [A, A, F, A, U]),
        ["POST /v1/otlp/v1/traces"] = ("otlp-collector-traces", [A, A, F, A, U]),
        ["POST /v1/otlp/logs"] = ("otlp-logs", [A, A, F, A, U]),
        ["POST /v1/otlp/v1/logs"] = ("otlp-collector-logs", [A, A, F, A, U]),
        ["POST /v1/otlp/metrics"] = ("otlp-metrics", [A, A, F, A, U]),
        ["POST /v1/otlp/v1/metrics"] = ("otlp-collector-metrics", [A, A, F, A, U]),
        ["GET /v1/otlp/export"] = ("otlp-export", [A, A, A, F, U]),
        ["GET /v1/otlp/export/logs"] = ("otlp-export-logs", [A, A, A, F, U]),
        ["GET /v1/traces"] = ("traces", [A, A, A, F, U]),
        ["GET /v1/traces/{traceId}"] = ("trace", [A, A, A, F, U]),
        ["GET /v1/traces/{traceId}/logs"] = ("trace-logs", [A, A, A, F, U]),
        ["GET /v1/logs"] = ("logs", [A, A, A, F, U]),
        ["GET /v1/traces/{traceId}/spans"] = ("trace-spans", [A, A, A, F, U]),
        ["GET /v1/spans"] = ("spans", [A, A, A, F, U]),
        ["GET /v1/sessions"] = ("sessions", [A, A, A, F, U]),
        ["GET /v1/sessions/{sessionId}"] = ("session-traces", [A, A, A, F, U]),
        ["GET /v1/analytics/llm"] = ("analytics-llm", [A, A, A, F, U]),
        ["GET /v1/session"] = ("session", [A, A, A, F, U]),
        ["GET /v1/organizations"] = ("organizations", [A, A, A, F, U]),
        ["POST /v1/organizations"] = ("organizations", [A, A, A, F, U]),
        ["GET /v1/projects"] = ("projects", [A, A, A, F, U]),
        ["POST /v1/projects"] = ("projects", [A, A, F, F, U]),
        ["GET /v1/projects/{projectId}/content-policy"] = ("projects", [A, A, A, F, U]),
        ["PUT /v1/projects/{projectId}/content-policy"] = ("projects", [A, F, F, F, U]),
        ["GET /v1/api-keys"] = ("api-keys", [A, A, A, F, U]),
        ["POST /v1/api-keys"] = ("api-keys", [A, A, F, F, U]),
        ["DELETE /v1/api-keys/{keyId}"] = ("api-keys", [A, A, F, F, U]),
        ["GET /v1/members"] = ("members", [A, A, A, F, U]),
        ["POST /v1/members"] = ("members", [A, F, F, F, U]),
        ["PATCH /v1/members/{userId}"] = ("members", [A, F, F, F, U]),
        ["DELETE /v1/members/{userId}"] = ("members", [A, F, F, F, U]),
        ["GET /v1/audit-log"] = ("audit-log", [A, A, A, F, U]),
        ["GET /v1/audit-log/verify"] = ("audit-log", [A, F, F, F, U]),
        ["GET /v1/dlq"] = ("dlq", [A, A, A, F, U]),
        ["GET /v1/dlq/{id}"] = ("dlq-entry", [A, A, A, F, U]),
        ["POST /v1/dlq/{id}/replay"] = ("dlq-replay", [A, F, F, F, U]),
        ["POST /v1/dlq/{id}/discard"] = ("dlq-discard", [A, F, F, F, U]),
        ["GET /v1/model-prices"] = ("model-prices", [A, A, A, F, U]),
        ["PUT /v1/model-prices/{model}"] = ("model-price-put", [A, A, F, F, U]),
        ["DELETE /v1/model-prices/{model}"] = ("model-price-delete", [A, A, F, F, U]),
        // Public: the dashboard's local sign-in takes no credential (and ignores one), whoever calls.
        ["POST /v1/dev/session"] = ("dev-session", [A, A, A, A, A]),
    };

    private static readonly string[] Callers = ["owner", "member", "viewer", "api_key", "none"];

    public static TheoryData<string> Rows => [.. Matrix.Keys];

    [Fact]
    public void Matrix_CoversEveryHttpRouteOfTheGateway()
        => Assert.Equal(
            GatewayRoutes.All.Where(r => !r.Grpc).Select(r => r.Id).Order(),
            Matrix.Values.Select(v => v.RouteId).Distinct().Order());

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task Route_AnswersEachCallerAsTheMatrixSays(string row)
    {
        var (_, expected) = Matrix[row];
        var (apiKey, _) = await stack.CreateApiKeyAsync(stack.Owner, stack.DevProject);
        var failures = new List<string>();
        for (var i = 0; i < Callers.Length; i++)
        {
            var credential = Callers[i] switch
            {
                "owner" => stack.Owner,
                "member" => stack.Member,
                "viewer" => stack.Viewer,
                "api_key" => apiKey,
                _ => null,
            };
            var (status, body) = await CallAsync(row, credential, isSession: i < 3);
            Outcome? outcome = status switch
            {
                HttpStatusCode.Unauthorized => Outcome.Unauthenticated,
                HttpStatusCode.Forbidden => Outcome.Forbidden,
                _ when ReachedTheService(row, status, body) => Outcome.Allowed,
                _ => null,
            };
            if (outcome != expected[i])
            {
                failures.Add($"{Callers[i]}: expected {expected[i]}, got {(int)status} {body}");
            }
        }

        Assert.True(failures.Count == 0, $"{row}:\n" + string.Join("\n", failures));
    }

    /// <summary>
    /// Every route answers a 2xx to the valid requests sent here, except the trace and session lookups, which
    /// ask for a trace or session that does not exist: Export.Api's own 404 ("trace ... not found") proves the request got
    /// through the gateway, whose refusals are 401, 403, 429 and 503; and metrics, which ingest itself
    /// refuses with a 404 that says why. Likewise the dead-letter routes, which name an entry that does not exist.
    /// </summary>
    private static bool ReachedTheService(string row, HttpStatusCode status, string body) => row switch
    {
        "GET /v1/dlq/{id}" or "POST /v1/dlq/{id}/replay" or "POST /v1/dlq/{id}/discard"
            => status == HttpStatusCode.NotFound && body.Contains("no dead letter", StringComparison.Ordinal),
        "GET /v1/traces/{traceId}" or "GET /v1/traces/{traceId}/spans" or "GET /v1/sessions/{sessionId}"
            => status == HttpStatusCode.NotFound && body.Contains("not found in", StringComparison.Ordinal),
        "POST /v1/otlp/metrics" or "POST /v1/otlp/v1/metrics" => status == HttpStatusCode.NotFound && body.Contains("does not accept OTLP metrics", StringComparison.Ordinal),
        _ => (int)status is >= 200 and < 300,
    };

    /// <summary>A valid request for the row; what it acts on (a key to revoke, a member to change) is set up by the owner.</summary>
    private async Task<(HttpStatusCode Status, string Body)> CallAsync(string row, string? credential, bool isSession)
    {
        var unique = Guid.NewGuid().ToString("N")[..8];
        var project = isSession ? $"?project_id={stack.DevProject}" : "";
        HttpResponseMessage response;
        switch (row)
        {
            case "POST /v1/otlp/traces":
                response = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces" + project, credential, GatewayStack.OtlpJson("""{"resourceSpans": []}"""));
                break;
            case "POST /v1/otlp/v1/traces":
                response = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/v1/traces" + project, credential, GatewayStack.OtlpJson("""{"resourceSpans": []}"""));
                break;
            case "POST /v1/otlp/logs":
            case "POST /v1/otlp/v1/logs":
                response = await stack.SendAsync(HttpMethod.Post, row.Split(' ')[1] + project, credential, GatewayStack.OtlpJson("""{"resourceLogs": []}"""));
                break;
            case "POST /v1/otlp/metrics":
            case "POST /v1/otlp/v1/metrics":
                response = await stack.SendAsync(HttpMethod.Post, row.Split(' ')[1] + project, credential, GatewayStack.OtlpJson("""{"resourceMetrics": []}"""));
                break;
            case "GET /v1/otlp/export/logs":
                response = await stack.SendAsync(HttpMethod.Get, $"/v1/otlp/export/logs?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&project_id={stack.DevProject}", credential);
                break;
            case "GET /v1/traces/{traceId}/logs":
                response = await stack.SendAsync(HttpMethod.Get, $"/v1/traces/{Convert.ToHexString(Guid.NewGuid().ToByteArray())}/logs?project_id={stack.DevProject}", credential);
                break;
            case "GET /v1/logs":
                response = await stack.SendAsync(HttpMethod.Get, $"/v1/logs?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&project_id={stack.DevProject}", credential);
                break;
            case "GET /v1/traces/{traceId}/spans":
                response = await stack.SendAsync(HttpMethod.Get, $"/v1/traces/{Convert.ToHexString(Guid.NewGuid().ToByteArray())}/spans?project_id={stack.DevProject}", credential);
                break;
            case "GET /v1/spans":
                response = await stack.SendAsync(HttpMethod.Get, $"/v1/spans?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&project_id={stack.DevProject}", credential);
                break;
            case "GET /v1/sessions":
                response = await stack.SendAsync(HttpMethod.Get, $"/v1/sessions?project_id={stack.DevProject}", credential);
                break;
            case "GET /v1/sessions/{sessionId}":
                response = await stack.SendAsync(HttpMethod.Get, $"/v1/sessions/s-{unique}?project_id={stack.DevProject}", credential);
                break;
            case "GET /v1/analytics/llm":
                response = await stack.SendAsync(HttpMethod.Get, $"/v1/analytics/llm?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&project_id={stack.DevProject}", credential);
                break;
            case "GET /v1/otlp/export":
                response = await stack.SendAsync(HttpMethod.Get, $"/v1/otlp/export?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&project_id={stack.DevProject}", credential);
                break;
            case "GET /v1/traces":
                response = await stack.SendAsync(HttpMethod.Get, $"/v1/traces?project_id={stack.DevProject}", credential);
                break;
            case "GET /v1/traces/{traceId}":
                response = await stack.SendAsync(HttpMethod.Get, $"/v1/traces/{Convert.ToHexString(Guid.NewGuid().ToByteArray())}?project_id={stack.DevProject}", credential);
                break;
            case "GET /v1/dlq/{id}":
            case "POST /v1/dlq/{id}/replay":
            case "POST /v1/dlq/{id}/discard":
                response = await stack.SendAsync(row.StartsWith("GET", StringComparison.Ordinal) ? HttpMethod.Get : HttpMethod.Post, row.Split(' ')[1].Replace("{id}", Guid.NewGuid().ToString(), StringComparison.Ordinal), credential);
                break;
            case "PUT /v1/model-prices/{model}":
                response = await stack.SendAsync(HttpMethod.Put, $"/v1/model-prices/matrix-{unique}", credential, JsonContent.Create(new { input = 1, output = 2 }));
                break;
            case "DELETE /v1/model-prices/{model}":
                await stack.SendJsonAsync(HttpMethod.Put, $"/v1/model-prices/matrix-{unique}", stack.Owner, new { input = 1 }, HttpStatusCode.Created);
                response = await stack.SendAsync(HttpMethod.Delete, $"/v1/model-prices/matrix-{unique}", credential);
                break;
            case "POST /v1/organizations":
                response = await stack.SendAsync(HttpMethod.Post, "/v1/organizations", credential, JsonContent.Create(new { name = "org " + unique }));
                break;
            case "POST /v1/projects":
                response = await stack.SendAsync(HttpMethod.Post, "/v1/projects", credential, JsonContent.Create(new { name = "project " + unique }));
                break;
            case "GET /v1/projects/{projectId}/content-policy":
                response = await stack.SendAsync(HttpMethod.Get, $"/v1/projects/{stack.DevProject}/content-policy", credential);
                break;
            case "PUT /v1/projects/{projectId}/content-policy":
                // A project of its own: the policy it sets must not change what other tests' spans keep.
                var created = await stack.SendJsonAsync(HttpMethod.Post, "/v1/projects", stack.Owner, new { name = "policy " + unique }, HttpStatusCode.Created);
                response = await stack.SendAsync(HttpMethod.Put, $"/v1/projects/{created.GetProperty("id").GetString()}/content-policy", credential, JsonContent.Create(new { mode = "drop" }));
                break;
            case "POST /v1/api-keys":
                response = await stack.SendAsync(HttpMethod.Post, "/v1/api-keys", credential, JsonContent.Create(new { name = "k", projectId = stack.DevProject.ToString() }));
                break;
            case "DELETE /v1/api-keys/{keyId}":
                var (_, keyId) = await stack.CreateApiKeyAsync(stack.Owner, stack.DevProject);
                response = await stack.SendAsync(HttpMethod.Delete, $"/v1/api-keys/{keyId}", credential);
                break;
            case "POST /v1/members":
                response = await stack.SendAsync(HttpMethod.Post, "/v1/members", credential, JsonContent.Create(new { userId = "u" + unique, role = "viewer" }));
                break;
            case "PATCH /v1/members/{userId}":
                await stack.SendJsonAsync(HttpMethod.Post, "/v1/members", stack.Owner, new { userId = "u" + unique, role = "viewer" }, HttpStatusCode.Created);
                response = await stack.SendAsync(HttpMethod.Patch, $"/v1/members/u{unique}", credential, JsonContent.Create(new { role = "member" }));
                break;
            case "DELETE /v1/members/{userId}":
                await stack.SendJsonAsync(HttpMethod.Post, "/v1/members", stack.Owner, new { userId = "u" + unique, role = "viewer" }, HttpStatusCode.Created);
                response = await stack.SendAsync(HttpMethod.Delete, $"/v1/members/u{unique}", credential);
                break;
            case "POST /v1/dev/session":
                // A client of its own: the answer sets the __session cookie, which the shared client would
                // keep and send with every later request of the collection, the ones "without a credential" too.
                using (var cookieless = new HttpClient(new HttpClientHandler { UseCookies = false }))
                using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri(stack.Gateway, "/v1/dev/session")) { Content = JsonContent.Create(new { role = "viewer" }) })
                {
                    if (credential is not null)
                    {
                        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", credential);
                    }

                    response = await cookieless.SendAsync(request);
                    Assert.Contains(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("__session=", StringComparison.Ordinal));
                }

                break;
            default:
                response = await stack.SendAsync(HttpMethod.Get, row.Split(' ')[1], credential);
                break;
        }

        using (response)
        {
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
    }
}
