using System.Net;
using Microsoft.AspNetCore.Routing;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.Audit;

/// <summary>Who acts: a person's session or an API key.</summary>
public static class AuditActorKinds
{
    public const string Session = "session";
    public const string ApiKey = "api_key";

    public static bool IsKnown(string? kind) => kind is Session or ApiKey;
}

/// <summary>The actions Auth.Api records for its own changes (the gateway names those of other services).</summary>
public static class AuditActions
{
    public const string CreateOrganization = "organization.create";
    public const string CreateProject = "project.create";
    public const string CreateApiKey = "api_key.create";
    public const string RevokeApiKey = "api_key.revoke";
    public const string AddMember = "member.add";
    public const string ChangeMemberRole = "member.change_role";
    public const string RemoveMember = "member.remove";
    public const string SetContentPolicy = "project.content_policy";
}

/// <summary>
/// Which part of an action an entry records: <c>done</c>, a change Auth.Api made (written in the change's
/// own transaction, so it exists exactly when the change does); <c>intent</c> and <c>outcome</c>, what the
/// gateway records around a call another service serves (before forwarding, and with the status after).
/// </summary>
public static class AuditPhases
{
    public const string Done = "done";
    public const string Intent = "intent";
    public const string Outcome = "outcome";

    public static bool IsKnown(string? phase) => phase is Done or Intent or Outcome;
}

/// <summary>
/// One audit entry before it is chained: who (actor), where (project), what (action, method, route,
/// target, detail), how it ended (status) and which request it was (correlation id, client address).
/// Never a secret: an API key is named by its id, a session by its subject.
/// </summary>
public sealed record AuditEntry(
    string Source,
    string Phase,
    string ActorKind,
    string ActorId,
    string? ActorRole,
    Guid? ProjectId,
    string Action,
    string Method,
    string Route,
    string? TargetId,
    string? Detail,
    int? Status,
    string? CorrelationId,
    string? ClientAddress)
{
    /// <summary>The source of the entries Auth.Api writes for its own changes.</summary>
    public const string AuthSource = "auth";

    /// <summary>
    /// The entry of a change the current request makes, answered with <paramref name="status"/> if it
    /// happens. The route is the endpoint's pattern (the target id is a field of its own).
    /// </summary>
    public static AuditEntry ForChange(HttpContext context, CallerIdentity caller, string action, int status, string? targetId = null, Guid? projectId = null, string? detail = null)
        => new(
            AuthSource,
            AuditPhases.Done,
            caller.Kind == CallerKind.ApiKey ? AuditActorKinds.ApiKey : AuditActorKinds.Session,
            caller.Kind == CallerKind.ApiKey ? caller.ApiKeyId?.ToString() ?? "" : caller.Subject ?? "",
            caller.Role,
            projectId,
            action,
            context.Request.Method,
            (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? context.Request.Path.Value ?? "",
            targetId,
            detail,
            status,
            context.TraceIdentifier,
            ClientAddressOf(context));

    /// <summary>
    /// The client's address as the gateway saw it: the last X-Forwarded-For entry, which the gateway's
    /// proxy writes (a request reaches these routes only with the gateway's signed assertion), else the
    /// connection's own address.
    /// </summary>
    internal static string? ClientAddressOf(HttpContext context)
    {
        var forwarded = context.Request.Headers["X-Forwarded-For"].ToString();
        if (forwarded.Length > 0)
        {
            var last = forwarded[(forwarded.LastIndexOf(',') + 1)..].Trim();
            if (IPAddress.TryParse(last, out var address))
            {
                return address.ToString();
            }
        }

        return context.Connection.RemoteIpAddress?.ToString();
    }
}

/// <summary>An entry as stored: its place in the organization's chain and the hashes that link it.</summary>
public sealed record AuditRecord(
    Guid OrganizationId,
    long Sequence,
    Guid Id,
    DateTimeOffset OccurredAt,
    AuditEntry Entry,
    byte[] PreviousHash,
    byte[] Hash);
