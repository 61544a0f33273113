using System.Text.Json.Nodes;
using Trulayer.ServiceDefaults.OpenApi;

namespace Trulayer.Gateway.OpenApi;

/// <summary>A service's own document as fetched, or why it could not be.</summary>
internal sealed record ServiceDocument(string Cluster, JsonObject? Document, string? Failure);

/// <summary>The merged document and what it lacks: routes no service documents, services that did not answer.</summary>
internal sealed record MergedDocument(JsonObject Document, IReadOnlyList<string> Undocumented, IReadOnlyList<string> Unavailable)
{
    public bool IsComplete => Undocumented.Count == 0 && Unavailable.Count == 0;
}

/// <summary>
/// The public API's OpenAPI document: the operations of the services' documents that a public HTTP route
/// of the gateway serves (so internal routes never appear), each with the credentials and roles that
/// pass its policy, the errors the gateway itself answers, and the OTLP bodies (<see cref="OtlpOperations"/>).
/// </summary>
internal static class PublicApiDocument
{
    public const string RolesExtension = "x-trulayer-roles";
    public const string ApiKeysExtension = "x-trulayer-api-keys";
    public const string RouteExtension = "x-trulayer-route";
    public const string UndocumentedExtension = "x-trulayer-undocumented";
    public const string UnavailableExtension = "x-trulayer-unavailable";

    public const string ApiKeyScheme = "apiKey";
    public const string SessionScheme = "session";
    public const string SessionCookieScheme = "sessionCookie";

    private static readonly HashSet<string> OwnSchemas = [.. OtlpOperations.Schemas().Select(s => s.Key)];

    private static readonly string[] Methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    /// <summary>The errors every route may answer, from the gateway or the service: status -> component name.</summary>
    private static readonly (string Status, string Name, string Description)[] Errors =
    [
        ("400", "BadRequest", "A parameter or the body is invalid; the message names it."),
        ("401", "Unauthorized", "No credential, or an unknown, revoked, expired or malformed one."),
        ("403", "Forbidden", "A valid credential the route does not allow (an API key on a session route, a role not in the list), or a cross-site cookie write."),
        ("404", "NotFound", "No such thing, or a project the caller has no access to."),
        ("429", "TooManyRequests", "Over the caller's rate limit, or too many failed authentications from the address; Retry-After says when to retry."),
        ("503", "ServiceUnavailable", "Auth.Api, the service behind the route or its store cannot be reached; Retry-After says when to retry."),
    ];

    public static MergedDocument Merge(IReadOnlyList<GatewayRoute> routes, IReadOnlyList<ServiceDocument> services)
    {
        var http = routes.Where(r => !r.Grpc).ToList();
        var policies = services.Select(s => s.Document?["x-trulayer-policies"] as JsonObject).FirstOrDefault(p => p is not null);
        var schemas = OtlpOperations.Schemas();
        var paths = new SortedDictionary<string, JsonObject>(StringComparer.Ordinal);
        var documented = new HashSet<string>(StringComparer.Ordinal);
        var unavailable = new List<string>();

        foreach (var service in services)
        {
            if (service.Document is null)
            {
                unavailable.Add($"{service.Cluster}: {service.Failure}");
                continue;
            }

            var document = WithSchemasMerged(service, schemas);
            if (document["paths"] is not JsonObject servicePaths)
            {
                continue;
            }

            foreach (var (path, item) in servicePaths)
            {
                if (item is not JsonObject operations)
                {
                    continue;
                }

                foreach (var method in Methods)
                {
                    if (operations[method] is not JsonObject operation
                        || Route(http, service.Cluster, method, path) is not { } route)
                    {
                        continue;
                    }

                    documented.Add(route.Id);
                    var target = paths.TryGetValue(path, out var existing) ? existing : paths[path] = [];
                    target[method] = Describe((JsonObject)operation.DeepClone(), route, method, path, policies);
                }
            }
        }

        var undocumented = http.Where(r => !documented.Contains(r.Id))
            .Select(r => $"{(r.Methods.Length == 0 ? "any method" : r.Methods)} {r.Path} (gateway route '{r.Id}', service '{r.Cluster}') is not in {r.Cluster}'s OpenAPI document"
                + (services.FirstOrDefault(s => s.Cluster == r.Cluster) is { Document: null, Failure: var failure } ? $", which could not be fetched: {failure}" : ""))
            .ToList();

        var merged = new JsonObject
        {
            ["openapi"] = "3.1.1",
            ["info"] = new JsonObject
            {
                ["title"] = "Trulayer API",
                ["version"] = ServiceOpenApi.DocumentName,
                ["description"] = Description,
            },
            ["paths"] = new JsonObject(paths.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
            ["components"] = new JsonObject
            {
                ["schemas"] = Referenced(schemas, paths.Values),
                ["responses"] = ErrorResponses(),
                ["securitySchemes"] = SecuritySchemes(),
            },
        };
        if (unavailable.Count > 0)
        {
            merged[UnavailableExtension] = new JsonArray([.. unavailable.Select(u => JsonValue.Create(u))]);
        }

        if (undocumented.Count > 0)
        {
            merged[UndocumentedExtension] = new JsonArray([.. undocumented.Select(u => JsonValue.Create(u))]);
        }

        return new MergedDocument(merged, undocumented, unavailable);
    }

    /// <summary>
    /// The public route that serves <paramref name="path"/> (a document's template) with <paramref name="method"/>,
    /// the most specific one when several match (a literal segment beats a parameter, which beats a catch-all); null when none does.
    /// </summary>
    public static GatewayRoute? Route(IReadOnlyList<GatewayRoute> routes, string cluster, string method, string path)
    {
        GatewayRoute? best = null;
        var bestScore = -1;
        foreach (var route in routes)
        {
            if (route.Grpc || route.Cluster != cluster
                || (route.Methods.Length > 0 && !route.Methods.Equals(method, StringComparison.OrdinalIgnoreCase))
                || Specificity(route.Path, path) is not { } score
                || score <= bestScore)
            {
                continue;
            }

            best = route;
            bestScore = score;
        }

        return best;
    }

    /// <summary>How specifically <paramref name="template"/> (a gateway route) matches <paramref name="path"/> (a document's template); null when it does not.</summary>
    public static int? Specificity(string template, string path)
    {
        var expected = template.Trim('/').Split('/');
        var actual = path.Trim('/').Split('/');
        var score = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            if (expected[i].StartsWith("{*", StringComparison.Ordinal))
            {
                return score;
            }

            if (i >= actual.Length)
            {
                return null;
            }

            if (IsParameter(expected[i]))
            {
                score += 1;
            }
            else if (!IsParameter(actual[i]) && expected[i].Equals(actual[i], StringComparison.OrdinalIgnoreCase))
            {
                score += 2;
            }
            else
            {
                return null;
            }
        }

        return expected.Length == actual.Length ? score + 1 : null;
    }

    private static bool IsParameter(string segment) => segment.StartsWith('{') && segment.EndsWith('}');

    private static JsonObject Describe(JsonObject operation, GatewayRoute route, string method, string path, JsonObject? policies)
    {
        operation["tags"] = new JsonArray(JsonValue.Create(route.Cluster));
        operation[RouteExtension] = route.Id;

        // The operation's own policy when Auth.Api's table knows it (Auth.Api guards each of its routes by
        // its row), else the policy the gateway asks for on the route.
        var own = (string?)operation[ServiceOpenApi.PolicyExtension];
        var policyName = own is not null && policies?[own] is not null ? own : route.Policy;
        operation[ServiceOpenApi.PolicyExtension] = policyName;
        var access = WhoMayCall(operation, policyName, policies);

        if (route.Errors == ErrorStyle.Otlp && OtlpOperations.IngestSignal(path) is { } signal)
        {
            OtlpOperations.DescribeIngest(operation, signal);
        }
        else if (path == "/v1/otlp/export")
        {
            OtlpOperations.DescribeExport(operation, "OTLPTracesData");
        }
        else if (path == "/v1/otlp/export/logs")
        {
            OtlpOperations.DescribeExport(operation, "OTLPLogsData");
        }

        var responses = operation["responses"] as JsonObject ?? (JsonObject)(operation["responses"] = new JsonObject());
        var prefix = route.Errors == ErrorStyle.Otlp ? "Otlp" : "";
        foreach (var (status, name, _) in Errors)
        {
            if (responses[status] is not JsonObject { Count: > 0 } declared || declared["content"] is null && declared["$ref"] is null)
            {
                responses[status] = OtlpOperations.Reference(prefix + name);
            }
        }

        if (method is "post" or "put" or "patch")
        {
            responses["413"] ??= OtlpOperations.Reference(prefix + "PayloadTooLarge");
        }

        var description = (string?)operation["description"];
        operation["description"] = (string.IsNullOrEmpty(description) ? "" : description + "\n\n") + access;
        return operation;
    }

    /// <summary>Sets the security requirements and role extensions; returns the sentence that says who may call.</summary>
    private static string WhoMayCall(JsonObject operation, string policyName, JsonObject? policies)
    {
        if (policyName == GatewayRoutes.PublicPolicy)
        {
            // An empty requirement: no credential needed (OpenAPI's way to say anonymous).
            operation[RolesExtension] = new JsonArray();
            operation[ApiKeysExtension] = false;
            operation["security"] = new JsonArray(new JsonObject());
            return "Who may call: anyone, without a credential (a public route; the gateway still refuses a cross-site request).";
        }

        if (policies?[policyName] is not JsonObject policy)
        {
            operation["security"] = new JsonArray(Requirement(ApiKeyScheme), Requirement(SessionScheme), Requirement(SessionCookieScheme));
            return $"Who may call: policy '{policyName}' (its roles are unknown right now: Auth.Api's document could not be fetched).";
        }

        var apiKeys = policy["apiKeys"]?.GetValue<bool>() ?? false;
        var roles = (policy["roles"] as JsonArray)?.Select(r => (string)r!).ToList() ?? [];
        operation[RolesExtension] = new JsonArray([.. roles.Select(r => JsonValue.Create(r))]);
        operation[ApiKeysExtension] = apiKeys;
        var security = new JsonArray();
        if (apiKeys)
        {
            security.Add(Requirement(ApiKeyScheme));
        }

        if (roles.Count > 0)
        {
            security.Add(Requirement(SessionScheme));
            security.Add(Requirement(SessionCookieScheme));
        }

        operation["security"] = security;
        var who = new List<string>();
        if (apiKeys)
        {
            who.Add("API keys (their own project)");
        }

        if (roles.Count > 0)
        {
            who.Add($"sessions of {string.Join(", ", roles.SkipLast(1))}{(roles.Count > 1 ? " or " : "")}{roles[^1]}");
        }

        return $"Who may call: {string.Join("; ", who)} (policy '{policyName}').";
    }

    private static JsonObject Requirement(string scheme) => new() { [scheme] = new JsonArray() };

    /// <summary>
    /// A copy of the service's document whose schemas are added to <paramref name="schemas"/>; a schema whose
    /// name another service already uses for a different shape is renamed with the service's name first.
    /// </summary>
    private static JsonObject WithSchemasMerged(ServiceDocument service, JsonObject schemas)
    {
        var document = (JsonObject)service.Document!.DeepClone();
        if (document["components"]?["schemas"] is not JsonObject own)
        {
            return document;
        }

        var renames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, schema) in own)
        {
            // The gateway's own schemas (ErrorResponse, the OTLP ones) stand for the services' copies of them.
            if (schemas[name] is { } known && !OwnSchemas.Contains(name) && !JsonNode.DeepEquals(known, schema))
            {
                renames[name] = char.ToUpperInvariant(service.Cluster[0]) + service.Cluster[1..] + name;
            }
        }

        if (renames.Count > 0)
        {
            RewriteReferences(document, renames);
        }

        foreach (var (name, schema) in ((JsonObject)document["components"]!["schemas"]!).ToList())
        {
            var merged = renames.GetValueOrDefault(name, name);
            schemas[merged] ??= schema!.DeepClone();
        }

        return document;
    }

    private static void RewriteReferences(JsonNode node, Dictionary<string, string> renames)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    if (key == "$ref" && (string?)value is { } reference && reference.StartsWith("#/components/schemas/", StringComparison.Ordinal)
                        && renames.TryGetValue(reference["#/components/schemas/".Length..], out var renamed))
                    {
                        obj[key] = "#/components/schemas/" + renamed;
                    }
                    else if (value is not null)
                    {
                        RewriteReferences(value, renames);
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    if (item is not null)
                    {
                        RewriteReferences(item, renames);
                    }
                }

                break;
        }
    }

    /// <summary>
    /// The gateway's own schemas and those the operations reach (directly or through other schemas), so a
    /// schema only internal routes use (Auth.Api's verify answer, say) does not appear.
    /// </summary>
    private static JsonObject Referenced(JsonObject schemas, IEnumerable<JsonObject> operations)
    {
        var reached = new HashSet<string>(OwnSchemas, StringComparer.Ordinal);
        var pending = new Stack<JsonNode>(operations);
        foreach (var name in OwnSchemas)
        {
            pending.Push(schemas[name]!);
        }

        while (pending.TryPop(out var node))
        {
            foreach (var name in References(node))
            {
                if (reached.Add(name) && schemas[name] is { } schema)
                {
                    pending.Push(schema);
                }
            }
        }

        return new JsonObject(schemas.Where(s => reached.Contains(s.Key)).Select(s => KeyValuePair.Create(s.Key, s.Value?.DeepClone())));
    }

    private static IEnumerable<string> References(JsonNode node)
    {
        const string prefix = "#/components/schemas/";
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj)
                {
                    if (key == "$ref" && (string?)value is { } reference && reference.StartsWith(prefix, StringComparison.Ordinal))
                    {
                        yield return reference[prefix.Length..];
                    }
                    else if (value is not null)
                    {
                        foreach (var name in References(value))
                        {
                            yield return name;
                        }
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array.OfType<JsonNode>())
                {
                    foreach (var name in References(item))
                    {
                        yield return name;
                    }
                }

                break;
        }
    }

    private static JsonObject ErrorResponses()
    {
        var responses = new JsonObject();
        foreach (var (status, name, description) in Errors.Append(("413", "PayloadTooLarge", "The body is over 20 MiB (after decompression)."))
            .Append(("415", "UnsupportedMediaType", "OTLP takes application/x-protobuf or application/json.")))
        {
            var retry = status is "429" or "503";
            responses[name] = Error(description, retry, new JsonObject { ["application/json"] = new JsonObject { ["schema"] = OtlpOperations.SchemaRef("ErrorResponse") } });
            responses["Otlp" + name] = Error(description, retry, new JsonObject
            {
                ["application/json"] = new JsonObject { ["schema"] = OtlpOperations.SchemaRef("OTLPErrorResponse") },
                ["application/x-protobuf"] = new JsonObject
                {
                    ["schema"] = new JsonObject { ["type"] = "string", ["format"] = "binary", ["description"] = "google.rpc.Status" },
                },
            });
        }

        return responses;
    }

    private static JsonObject Error(string description, bool retryAfter, JsonObject content)
    {
        var response = new JsonObject { ["description"] = description, ["content"] = content };
        if (retryAfter)
        {
            response["headers"] = new JsonObject
            {
                ["Retry-After"] = new JsonObject
                {
                    ["description"] = "Seconds to wait before retrying.",
                    ["schema"] = new JsonObject { ["type"] = "integer" },
                },
            };
        }

        return response;
    }

    private static JsonObject SecuritySchemes() => new()
    {
        [ApiKeyScheme] = new JsonObject
        {
            ["type"] = "http",
            ["scheme"] = "bearer",
            ["description"] = "An API key: `Authorization: Bearer tl_...` (gRPC: the `authorization` metadata). It belongs to one project and may only send spans and logs.",
        },
        [SessionScheme] = new JsonObject
        {
            ["type"] = "http",
            ["scheme"] = "bearer",
            ["bearerFormat"] = "JWT",
            ["description"] = "A dashboard session: the issuer's JWT (Clerk in production, Auth.Api's dev issuer locally) in `Authorization: Bearer`.",
        },
        [SessionCookieScheme] = new JsonObject
        {
            ["type"] = "apiKey",
            ["in"] = "cookie",
            ["name"] = "__session",
            ["description"] = "The same session JWT in the `__session` cookie; a POST, PUT, PATCH or DELETE so authenticated must come from an allowed Origin (CSRF check).",
        },
    };

    private const string Description = """
        The public HTTP API of Trulayer, as the gateway serves it: merged from the services' own documents,
        restricted to the gateway's public routes. Every operation says who may call it: `security` (an API key,
        a session as Bearer JWT or the `__session` cookie), `x-trulayer-roles` (the organization roles a session
        needs; an allowlist, never a rank) and `x-trulayer-api-keys`. Errors are `{"error": "..."}` (ErrorResponse);
        on the OTLP routes they are OTLP's (OTLPErrorResponse, or a protobuf google.rpc.Status). OTLP/gRPC
        (`TraceService/Export`, `LogsService/Export`) is served on port 4317 and described in the README.
        """;
}
