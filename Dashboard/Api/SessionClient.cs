namespace Trulayer.Dashboard.Api;

public sealed record SessionOrganization(string Id, string Name);

public sealed record ProjectInfo(string Id, string Name, DateTimeOffset CreatedAt);

/// <summary>GET /v1/session: who is signed in, in which organization, with which role.</summary>
public sealed record SessionInfo(string? UserId, SessionOrganization? Organization, string? Role, IReadOnlyList<ProjectInfo> Projects)
{
    /// <summary>Owner and member may create and revoke API keys (Auth.Api's access table).</summary>
    public bool CanManageKeys => Role is Roles.Owner or Roles.Member;

    /// <summary>Only an owner adds, changes or removes members.</summary>
    public bool CanManageMembers => Role is Roles.Owner;

    /// <summary>Owner and member add, replace and delete the organization's model prices (the processor's access table).</summary>
    public bool CanEditPrices => Role is Roles.Owner or Roles.Member;

    /// <summary>Only an owner replays or discards a dead letter.</summary>
    public bool CanResolveDeadLetters => Role is Roles.Owner;
}

public static class Roles
{
    public const string Owner = "owner";
    public const string Member = "member";
    public const string Viewer = "viewer";

    public static readonly IReadOnlyList<string> All = [Owner, Member, Viewer];
}

/// <summary>The session: who is signed in, and the local dev sign-in (POST/DELETE /v1/dev/session, only when the dev issuer is on).</summary>
public sealed class SessionClient(ApiHttp api)
{
    /// <summary>The signed-in session, or null when there is none (401).</summary>
    public async Task<SessionInfo?> GetAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await api.GetAsync<SessionInfo>("v1/session", cancellationToken);
        }
        catch (ApiException e) when (e.NeedsSignIn)
        {
            return null;
        }
    }

    public Task DevSignInAsync(string role) => api.SendAsync(HttpMethod.Post, "v1/dev/session", new { role });

    public Task DevSignOutAsync() => api.SendAsync(HttpMethod.Delete, "v1/dev/session");
}
