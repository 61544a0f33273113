using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.Access;

/// <summary>
/// Who passes a policy: whether API keys do, and which organization roles of a session (an allowlist,
/// never a rank comparison).
/// </summary>
public sealed record AccessPolicy(string Name, bool AllowsApiKeys, IReadOnlyList<string> SessionRoles, bool AllowsSessionsWithoutOrganization = false)
{
    /// <summary>Why <paramref name="caller"/> may not pass, or null when it may.</summary>
    public string? Refusal(CallerIdentity caller)
    {
        if (caller.Kind == CallerKind.ApiKey)
        {
            return AllowsApiKeys
                ? null
                : "this needs a dashboard session; an API key can only send spans (POST /v1/otlp/traces)";
        }

        if (caller.Role is null)
        {
            return AllowsSessionsWithoutOrganization
                ? null
                : "you are not a member of any organization: create one with POST /v1/organizations, or ask an owner to add you";
        }

        return SessionRoles.Contains(caller.Role)
            ? null
            : $"role '{caller.Role}' may not do this; it needs {string.Join(" or ", SessionRoles.Select(r => $"'{r}'"))}";
    }
}

/// <summary>One route of Auth.Api and the policy that guards it.</summary>
public sealed record RouteAccess(string Method, string Pattern, AccessPolicy Policy)
{
    public override string ToString() => $"{Method} {Pattern}";
}

/// <summary>
/// The one table of who may do what. The gateway asks for a policy by name when it verifies a caller
/// (ingest, export, and signed-in for the management routes it forwards to Auth.Api); Auth.Api's own
/// routes are each guarded by their row below.
/// </summary>
public static class AccessTable
{
    /// <summary>Sending spans: an API key (its own project), or a session of an owner or member.</summary>
    public static readonly AccessPolicy Ingest = new("ingest", AllowsApiKeys: true, [Roles.Owner, Roles.Member]);

    /// <summary>Reading spans back: dashboard sessions only.</summary>
    public static readonly AccessPolicy Export = new("export", AllowsApiKeys: false, [Roles.Owner, Roles.Member, Roles.Viewer]);

    /// <summary>Any signed-in person, also one who belongs to no organization yet (to create one).</summary>
    public static readonly AccessPolicy SignedIn = new("signed-in", AllowsApiKeys: false, Roles.All, AllowsSessionsWithoutOrganization: true);

    public static readonly AccessPolicy OrganizationRead = new("organization-read", AllowsApiKeys: false, [Roles.Owner, Roles.Member, Roles.Viewer]);

    /// <summary>Projects and API keys.</summary>
    public static readonly AccessPolicy OrganizationWrite = new("organization-write", AllowsApiKeys: false, [Roles.Owner, Roles.Member]);

    /// <summary>Member management: adding people, changing roles, removing people; a project's content policy; verifying the audit log.</summary>
    public static readonly AccessPolicy OrganizationAdmin = new("organization-admin", AllowsApiKeys: false, [Roles.Owner]);

    public static readonly IReadOnlyList<AccessPolicy> Policies =
        [Ingest, Export, SignedIn, OrganizationRead, OrganizationWrite, OrganizationAdmin];

    public static readonly RouteAccess GetSession = new("GET", "/v1/session", SignedIn);
    public static readonly RouteAccess ListOrganizations = new("GET", "/v1/organizations", SignedIn);
    public static readonly RouteAccess CreateOrganization = new("POST", "/v1/organizations", SignedIn);
    public static readonly RouteAccess ListProjects = new("GET", "/v1/projects", OrganizationRead);
    public static readonly RouteAccess CreateProject = new("POST", "/v1/projects", OrganizationWrite);
    public static readonly RouteAccess ListApiKeys = new("GET", "/v1/api-keys", OrganizationRead);
    public static readonly RouteAccess CreateApiKey = new("POST", "/v1/api-keys", OrganizationWrite);
    public static readonly RouteAccess RevokeApiKey = new("DELETE", "/v1/api-keys/{keyId}", OrganizationWrite);
    public static readonly RouteAccess ListMembers = new("GET", "/v1/members", OrganizationRead);
    public static readonly RouteAccess AddMember = new("POST", "/v1/members", OrganizationAdmin);
    public static readonly RouteAccess ChangeMemberRole = new("PATCH", "/v1/members/{userId}", OrganizationAdmin);
    public static readonly RouteAccess RemoveMember = new("DELETE", "/v1/members/{userId}", OrganizationAdmin);

    public static readonly RouteAccess GetContentPolicy = new("GET", "/v1/projects/{projectId}/content-policy", OrganizationRead);
    public static readonly RouteAccess SetContentPolicy = new("PUT", "/v1/projects/{projectId}/content-policy", OrganizationAdmin);

    public static readonly RouteAccess ReadAuditLog = new("GET", "/v1/audit-log", OrganizationRead);
    public static readonly RouteAccess VerifyAuditLog = new("GET", "/v1/audit-log/verify", OrganizationAdmin);

    public static readonly IReadOnlyList<RouteAccess> Routes =
    [
        GetSession, ListOrganizations, CreateOrganization,
        ListProjects, CreateProject, GetContentPolicy, SetContentPolicy,
        ListApiKeys, CreateApiKey, RevokeApiKey,
        ListMembers, AddMember, ChangeMemberRole, RemoveMember,
        ReadAuditLog, VerifyAuditLog,
    ];

    public static AccessPolicy? FindPolicy(string name) => Policies.FirstOrDefault(p => p.Name == name);
}
