using System.Globalization;
using System.Security.Claims;
using System.Text.Json;

namespace Trulayer.ServiceDefaults.Identity;

/// <summary>Maps a <see cref="CallerIdentity"/> to and from claims, so ASP.NET Core authorization (roles) applies.</summary>
internal static class IdentityClaims
{
    public const string Kind = "trulayer:kind";
    public const string Organization = "trulayer:org";
    public const string Project = "trulayer:project";
    public const string ApiKey = "trulayer:key";
    public const string ContentPolicies = "trulayer:content";

    public static ClaimsPrincipal ToPrincipal(CallerIdentity caller, string scheme)
    {
        var claims = new List<Claim>
        {
            new(Kind, IdentityAssertion.KindName(caller.Kind)),
            new(Organization, caller.OrganizationId.ToString()),
        };
        claims.AddRange(caller.ProjectIds.Select(p => new Claim(Project, p.ToString())));
        if (caller.Role is not null)
        {
            claims.Add(new Claim(ClaimTypes.Role, caller.Role));
        }

        if (caller.Subject is not null)
        {
            claims.Add(new Claim(ClaimTypes.NameIdentifier, caller.Subject));
        }

        if (caller.ApiKeyId is { } keyId)
        {
            claims.Add(new Claim(ApiKey, keyId.ToString()));
        }

        if (caller.ContentPolicies is { Count: > 0 } policies)
        {
            claims.Add(new Claim(ContentPolicies, JsonSerializer.Serialize(policies, IdentityAssertion.JsonOptions)));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme, ClaimTypes.NameIdentifier, ClaimTypes.Role));
    }

    public static CallerIdentity? ToCaller(ClaimsPrincipal principal)
    {
        var kind = principal.FindFirst(Kind)?.Value is { } k ? IdentityAssertion.ParseKind(k) : null;
        if (kind is null || !Guid.TryParse(principal.FindFirst(Organization)?.Value, out var organization))
        {
            return null;
        }

        var projects = principal.FindAll(Project).Select(c => Guid.Parse(c.Value, CultureInfo.InvariantCulture)).ToArray();
        Guid? keyId = Guid.TryParse(principal.FindFirst(ApiKey)?.Value, out var parsed) ? parsed : null;
        return new CallerIdentity(
            kind.Value,
            organization,
            projects,
            principal.FindFirst(ClaimTypes.Role)?.Value,
            principal.FindFirst(ClaimTypes.NameIdentifier)?.Value,
            keyId,
            principal.FindFirst(ContentPolicies)?.Value is { } policies
                ? JsonSerializer.Deserialize<Dictionary<Guid, ContentPolicy>>(policies, IdentityAssertion.JsonOptions)
                : null);
    }
}
