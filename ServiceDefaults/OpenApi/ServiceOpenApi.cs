namespace Trulayer.ServiceDefaults.OpenApi;

/// <summary>
/// An access policy as the OpenAPI documents carry it (<c>x-trulayer-policies</c> of Auth.Api's document),
/// so the gateway can say per operation which roles pass without a copy of Auth.Api's access table.
/// </summary>
public sealed record DocumentedPolicy(string Name, bool AllowsApiKeys, IReadOnlyList<string> SessionRoles);

/// <summary>
/// A query parameter a handler reads from <c>HttpRequest.Query</c> itself, which the document cannot
/// see otherwise: declare it with <c>.WithQueryParameters(...)</c> on the route.
/// </summary>
public sealed record DocumentedQueryParameter(string Name, string Description, string Type = "string", string? Format = null, bool Required = false);

/// <summary>The query parameters declared on a route (<see cref="DocumentedQueryParameter"/>).</summary>
public sealed record DocumentedQuery(IReadOnlyList<DocumentedQueryParameter> Parameters);

/// <summary>
/// Each service's own OpenAPI 3.1 document, built from its endpoints' metadata and served on an internal
/// path that the gateway never routes (it is in none of GatewayRoutes' paths); the gateway fetches the
/// documents, keeps the operations of its public routes and serves the merge at /openapi/v1.json.
/// </summary>
public static class ServiceOpenApi
{
    /// <summary>The document's name; the gateway's merged document has the same.</summary>
    public const string DocumentName = "v1";

    /// <summary>Where a service serves its document; not a public route.</summary>
    public const string DocumentPath = "/internal/openapi/v1.json";

    /// <summary>The authorization policy an endpoint asks for, when it names one.</summary>
    public const string PolicyExtension = "x-trulayer-policy";

    /// <summary>Auth.Api's access table: each policy with whether API keys pass and which roles.</summary>
    public const string PoliciesExtension = "x-trulayer-policies";
}
