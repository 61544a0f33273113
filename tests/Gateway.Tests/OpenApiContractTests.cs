using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Trulayer.Gateway.OpenApi;

namespace Trulayer.Gateway.Tests;

/// <summary>
/// The public OpenAPI document against the running gateway: every HTTP route of GatewayRoutes.All (so a
/// route added later is covered without touching this test) is documented and every documented operation
/// is a route; what the routes really answer matches the documented status codes and schemas.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed partial class OpenApiContractTests(GatewayStack stack)
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    [Fact]
    public async Task Document_EveryHttpRoute_IsDocumented()
    {
        var document = await DocumentAsync();
        var documentedRoutes = Operations(document).Select(o => o.Operation.GetProperty(PublicApiDocument.RouteExtension).GetString()).ToHashSet();
        var why = document.TryGetProperty(PublicApiDocument.UndocumentedExtension, out var undocumented)
            ? undocumented.EnumerateArray().Select(u => u.GetString()!).ToList()
            : [];

        var missing = GatewayRoutes.All.Where(r => !r.Grpc && !documentedRoutes.Contains(r.Id))
            .Select(r => why.FirstOrDefault(w => w.Contains($"'{r.Id}'", StringComparison.Ordinal)) ?? $"{r.Methods} {r.Path} (gateway route '{r.Id}') is not in the document")
            .ToList();
        Assert.True(missing.Count == 0, "routes missing from /openapi/v1.json:\n" + string.Join("\n", missing));
        Assert.False(document.TryGetProperty(PublicApiDocument.UnavailableExtension, out var unavailable), $"services whose documents were not fetched: {unavailable}");
    }

    [Fact]
    public async Task Document_EveryOperation_IsAPublicHttpRoute()
    {
        var document = await DocumentAsync();
        var operations = Operations(document).ToList();
        Assert.NotEmpty(operations);
        foreach (var (path, method, operation) in operations)
        {
            var routes = GatewayRoutes.All.Where(r => !r.Grpc
                && (r.Methods.Length == 0 || r.Methods.Equals(method, StringComparison.OrdinalIgnoreCase))
                && PublicApiDocument.Specificity(r.Path, path) is not null).ToList();
            Assert.True(routes.Count > 0, $"{method.ToUpperInvariant()} {path} is documented but the gateway has no route for it");
            Assert.Contains(operation.GetProperty(PublicApiDocument.RouteExtension).GetString(), routes.Select(r => r.Id));
            Assert.DoesNotContain("/v1/auth", path, StringComparison.Ordinal);
            Assert.DoesNotContain("openapi", path, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Document_EveryOperation_SaysWhoMayCallAndItsErrors()
    {
        var document = await DocumentAsync();
        foreach (var (path, method, operation) in Operations(document))
        {
            var name = $"{method.ToUpperInvariant()} {path}";
            Assert.True(operation.GetProperty("security").GetArrayLength() > 0, $"{name}: no security requirement");
            Assert.True(operation.TryGetProperty(PublicApiDocument.RolesExtension, out _), $"{name}: no {PublicApiDocument.RolesExtension}");
            Assert.Contains("Who may call:", operation.GetProperty("description").GetString(), StringComparison.Ordinal);
            foreach (var status in new[] { "400", "401", "403", "404", "429", "503" })
            {
                var response = Resolve(document, operation.GetProperty("responses").GetProperty(status));
                var schema = response.GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString();
                Assert.True(schema is "#/components/schemas/ErrorResponse" or "#/components/schemas/OTLPErrorResponse", $"{name} {status}: {schema}");
            }
        }
    }

    [Fact]
    public async Task Document_RolesAndSchemes_FollowTheAccessTable()
    {
        var document = await DocumentAsync();
        Assert.Equal(["owner", "member", "viewer"], Roles(document, "/v1/traces", "get", out var apiKeys));
        Assert.False(apiKeys);
        Assert.Equal(["owner", "member"], Roles(document, "/v1/otlp/traces", "post", out apiKeys));
        Assert.True(apiKeys);
        Assert.Equal(["owner"], Roles(document, "/v1/members", "post", out _));
        Assert.Equal(["owner", "member"], Roles(document, "/v1/projects", "post", out _));

        var schemes = document.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("bearer", schemes.GetProperty(PublicApiDocument.ApiKeyScheme).GetProperty("scheme").GetString());
        Assert.Equal("__session", schemes.GetProperty(PublicApiDocument.SessionCookieScheme).GetProperty("name").GetString());

        var ingest = document.GetProperty("paths").GetProperty("/v1/otlp/traces").GetProperty("post").GetProperty("requestBody").GetProperty("content");
        Assert.True(ingest.TryGetProperty("application/x-protobuf", out _));
        Assert.Equal("#/components/schemas/OTLPExportTraceServiceRequest", ingest.GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString());
        var export = document.GetProperty("paths").GetProperty("/v1/otlp/export").GetProperty("get").GetProperty("responses").GetProperty("200");
        Assert.Equal("#/components/schemas/OTLPTracesData", export.GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString());
    }

    [Fact]
    public async Task TraceList_ObservedAnswers_MatchTheDocument()
    {
        var document = await DocumentAsync();
        await ExpectDocumentedAsync(document, "/v1/traces", "get", $"/v1/traces?project_id={stack.DevProject}", stack.Owner, HttpStatusCode.OK);
        await ExpectDocumentedAsync(document, "/v1/traces", "get", $"/v1/traces?project_id={stack.DevProject}&limit=many", stack.Owner, HttpStatusCode.BadRequest);
        await ExpectDocumentedAsync(document, "/v1/traces", "get", $"/v1/traces?project_id={stack.DevProject}", null, HttpStatusCode.Unauthorized);
        await ExpectDocumentedAsync(document, "/v1/session", "get", "/v1/session", stack.Viewer, HttpStatusCode.OK);
        await ExpectDocumentedAsync(document, "/v1/projects", "post", "/v1/projects", stack.Viewer, HttpStatusCode.Forbidden);
    }

    [Theory]
    [InlineData("/v1/dlq", "project_id,from,to,limit,cursor")]
    [InlineData("/v1/audit-log", "from,to,actor,action,limit,cursor")]
    [InlineData("/v1/otlp/export", "from,to,project_id,limit,cursor")]
    [InlineData("/v1/traces", "from,to,project_id,service,model,status,q,session_id,user_id,resource.<key>,limit,cursor")]
    [InlineData("/v1/traces/{traceId}", "project_id")]
    [InlineData("/v1/traces/{traceId}/spans", "project_id")]
    [InlineData("/v1/spans", "from,to,project_id,trace_id,type,model,provider,service,status,session_id,user_id,min_duration_ms,max_duration_ms,q,attr.<key>,resource.<key>,limit,cursor")]
    [InlineData("/v1/sessions", "from,to,project_id,user_id,limit,cursor")]
    [InlineData("/v1/sessions/{sessionId}", "project_id")]
    [InlineData("/v1/otlp/export/logs", "from,to,project_id,limit,cursor")]
    [InlineData("/v1/logs", "from,to,project_id,service,severity,trace_id,q,limit,cursor")]
    [InlineData("/v1/traces/{traceId}/logs", "project_id")]
    [InlineData("/v1/analytics/llm", "from,to,interval,group_by,project_id,model,service,user_id")]
    public async Task RoutesReadingTheirQueryByHand_DocumentEveryParameter(string path, string names)
    {
        var document = await DocumentAsync();

        var operation = Operations(document).Single(o => o.Path == path && o.Method == "get").Operation;

        var documented = operation.GetProperty("parameters").EnumerateArray()
            .Where(p => p.GetProperty("in").GetString() == "query").Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Equal(names.Split(','), documented);
    }

    [Fact]
    public async Task Services_InternalDocumentPath_IsNotRouted()
    {
        using var response = await stack.SendAsync(HttpMethod.Get, ServiceDefaults.OpenApi.ServiceOpenApi.DocumentPath, stack.Owner);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Docs_ServesScalarFromThisOrigin_WithoutACdn()
    {
        using var page = await stack.SendAsync(HttpMethod.Get, "/docs", null);
        var html = await page.Content.ReadAsStringAsync();
        Assert.True(page.StatusCode == HttpStatusCode.OK, $"/docs: {(int)page.StatusCode} {html}");
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var sources = ScriptSource().Matches(html).Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(sources);
        foreach (var source in sources)
        {
            var address = new Uri(new Uri(stack.Gateway, "/docs/"), source);
            Assert.True(address.Authority == stack.Gateway.Authority, $"/docs loads {source} from another origin");
            using var script = await stack.Http.GetAsync(address);
            Assert.True(script.StatusCode == HttpStatusCode.OK, $"{address}: {(int)script.StatusCode}");
        }

        Assert.Contains("openapi/v1.json", html, StringComparison.Ordinal);
    }

    private async Task ExpectDocumentedAsync(JsonElement document, string path, string method, string request, string? credential, HttpStatusCode expected)
    {
        using var response = await stack.SendAsync(new HttpMethod(method.ToUpperInvariant()), request, credential, method == "post" ? System.Net.Http.Json.JsonContent.Create(new { name = "x" }) : null);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {request}: {(int)response.StatusCode} {body}");

        var status = ((int)expected).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var responses = document.GetProperty("paths").GetProperty(path).GetProperty(method).GetProperty("responses");
        Assert.True(responses.TryGetProperty(status, out var documented), $"{method} {path} answered {status}, which its document does not list");
        var content = Resolve(document, documented).GetProperty("content");
        var mediaType = response.Content.Headers.ContentType?.MediaType ?? "";
        Assert.True(content.TryGetProperty(mediaType, out var media), $"{method} {path} {status} answered {mediaType}, not documented");
        var problems = new List<string>();
        SchemaCheck.Validate(document, media.GetProperty("schema"), JsonDocument.Parse(body).RootElement, "$", problems);
        Assert.True(problems.Count == 0, $"{method} {request} {status} does not match its documented schema:\n{string.Join("\n", problems)}\n{body}");
    }

    private static List<string> Roles(JsonElement document, string path, string method, out bool apiKeys)
    {
        var operation = document.GetProperty("paths").GetProperty(path).GetProperty(method);
        apiKeys = operation.GetProperty(PublicApiDocument.ApiKeysExtension).GetBoolean();
        return [.. operation.GetProperty(PublicApiDocument.RolesExtension).EnumerateArray().Select(r => r.GetString()!)];
    }

    private async Task<JsonElement> DocumentAsync()
    {
        using var response = await stack.SendAsync(HttpMethod.Get, "/openapi/v1.json", null);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"/openapi/v1.json: {(int)response.StatusCode} {text}");
        Assert.False(response.Headers.Contains("X-Trulayer-OpenApi-Incomplete"), string.Join(" ", response.Headers.TryGetValues("X-Trulayer-OpenApi-Incomplete", out var v) ? v : []));
        var document = JsonDocument.Parse(text).RootElement.Clone();
        Assert.StartsWith("3.1", document.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        return document;
    }

    private static IEnumerable<(string Path, string Method, JsonElement Operation)> Operations(JsonElement document)
    {
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var method in Methods)
            {
                if (path.Value.TryGetProperty(method, out var operation))
                {
                    yield return (path.Name, method, operation);
                }
            }
        }
    }

    internal static JsonElement Resolve(JsonElement document, JsonElement node)
    {
        while (node.ValueKind == JsonValueKind.Object && node.TryGetProperty("$ref", out var reference))
        {
            node = document;
            foreach (var part in reference.GetString()!.TrimStart('#', '/').Split('/'))
            {
                node = node.GetProperty(part.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal));
            }
        }

        return node;
    }

    [GeneratedRegex("<script[^>]*\\bsrc=\"([^\"]+)\"", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptSource();
}
