using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace Trulayer.ServiceDefaults.Identity;

/// <summary>How the caller proved who they are at the gateway.</summary>
public enum CallerKind
{
    /// <summary>An SDK or Collector with a <c>tl_</c> API key, scoped to one project.</summary>
    ApiKey,

    /// <summary>A person with a dashboard session (JWT), with a role in one organization.</summary>
    Session,
}

/// <summary>Organization roles. Routes allow lists of them; roles are never compared by rank.</summary>
public static class Roles
{
    public const string Owner = "owner";
    public const string Member = "member";
    public const string Viewer = "viewer";

    public static readonly IReadOnlyList<string> All = [Owner, Member, Viewer];

    public static bool IsKnown(string? role) => role is Owner or Member or Viewer;
}

/// <summary>
/// The verified caller, as the gateway asserts it to the services: one organization, the projects the
/// caller may reach (an API key: exactly its own), the role of a session, the id of an API key, and the
/// content policies of those projects that do not store content as sent (absent: <see cref="ContentMode.Store"/>).
/// </summary>
public sealed record CallerIdentity(
    CallerKind Kind,
    Guid OrganizationId,
    IReadOnlyList<Guid> ProjectIds,
    string? Role = null,
    string? Subject = null,
    Guid? ApiKeyId = null,
    IReadOnlyDictionary<Guid, ContentPolicy>? ContentPolicies = null)
{
    /// <summary>What <paramref name="projectId"/> keeps of prompt and completion content.</summary>
    public ContentPolicy ContentPolicyFor(Guid projectId)
        => ContentPolicies is not null && ContentPolicies.TryGetValue(projectId, out var policy) ? policy : ContentPolicy.Store;

    /// <summary>Whether every query of this caller may touch <paramref name="projectId"/>.</summary>
    public bool CanAccess(Guid projectId) => ProjectIds.Contains(projectId);

    /// <summary>The identity the authentication handler put on the request, or null when there is none.</summary>
    public static CallerIdentity? FromPrincipal(ClaimsPrincipal principal)
        => principal.Identity is { IsAuthenticated: true } ? IdentityClaims.ToCaller(principal) : null;

    /// <summary>Lets minimal API handlers take the caller as a parameter on routes that require authorization.</summary>
    public static ValueTask<CallerIdentity?> BindAsync(HttpContext context) => ValueTask.FromResult(FromPrincipal(context.User));
}
