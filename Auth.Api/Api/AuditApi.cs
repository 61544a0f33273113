using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Trulayer.Auth.Access;
using Trulayer.Auth.Audit;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;
using Trulayer.ServiceDefaults.OpenApi;

namespace Trulayer.Auth.Api;

public sealed record AuditActor(string Kind, string Id, string? Role);

/// <summary>An audit entry as the API shows it; hashes in lowercase hex.</summary>
public sealed record AuditLogEntry(
    Guid Id,
    long Sequence,
    DateTimeOffset OccurredAt,
    string Source,
    string Phase,
    AuditActor Actor,
    Guid? ProjectId,
    string Action,
    string Method,
    string Route,
    string? TargetId,
    string? Detail,
    int? Status,
    string? CorrelationId,
    string? ClientAddress,
    string PreviousHash,
    string Hash)
{
    internal static AuditLogEntry From(AuditRecord record)
    {
        var e = record.Entry;
        return new(record.Id, record.Sequence, record.OccurredAt, e.Source, e.Phase, new AuditActor(e.ActorKind, e.ActorId, e.ActorRole),
            e.ProjectId, e.Action, e.Method, e.Route, e.TargetId, e.Detail, e.Status, e.CorrelationId, e.ClientAddress,
            Convert.ToHexStringLower(record.PreviousHash), Convert.ToHexStringLower(record.Hash));
    }
}

public sealed record AuditLogPage(IReadOnlyList<AuditLogEntry> Entries);

public sealed record AuditChainEntry(long Sequence, Guid Id, string Hash);

public sealed record AuditChainBreak(long Sequence, Guid? Id, string Reason);

/// <summary>The answer of GET /v1/audit-log/verify: whether the chain holds, and if not where it first breaks.</summary>
public sealed record AuditVerification(bool Verified, long Entries, AuditChainEntry? Head, AuditChainBreak? FirstBroken);

/// <summary>What the gateway sends to POST /v1/auth/audit to record a call another service serves.</summary>
public sealed record AuditRecordRequest(
    string? OrganizationId,
    string? Source,
    string? Phase,
    string? ActorKind,
    string? ActorId,
    string? ActorRole,
    string? ProjectId,
    string? Action,
    string? Method,
    string? Route,
    string? TargetId,
    string? Detail,
    int? Status,
    string? CorrelationId,
    string? ClientAddress);

public sealed record AuditRecorded(Guid Id, long Sequence, string Hash);

/// <summary>
/// The audit log: reading it (owner, member, viewer: the caller's organization only, newest first,
/// keyset-paged), verifying its chain (owner), and the internal route the gateway records through.
/// </summary>
internal static partial class AuditApi
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;
    private const string NextCursorHeader = "X-Next-Cursor";
    private const int MaxActorLength = 200;
    private const int MaxTargetLength = 200;
    private const int MaxDetailLength = 2000;
    private const int MaxRouteLength = 512;
    private static readonly string[] QueryParameters = ["from", "to", "actor", "action", "limit", "cursor"];

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        ManagementApi.Map(app, AccessTable.ReadAuditLog, ListEntries).WithQueryParameters(
            new DocumentedQueryParameter("from", "Entries at or after this time (RFC 3339)", Format: "date-time"),
            new DocumentedQueryParameter("to", "Entries before this time (RFC 3339)", Format: "date-time"),
            new DocumentedQueryParameter("actor", "Only entries of this actor: a user id, or an API key id"),
            new DocumentedQueryParameter("action", "Only entries of this action (api_key.create, dlq.replay, ...)"),
            new DocumentedQueryParameter("limit", "Entries per page, 1 to 1000 (default 100)", "integer"),
            new DocumentedQueryParameter("cursor", "The X-Next-Cursor of the previous page"));
        ManagementApi.Map(app, AccessTable.VerifyAuditLog, Verify);
        return app;
    }

    private static async Task<Results<Ok<AuditLogPage>, JsonHttpResult<ErrorResponse>>> ListEntries(
        CallerIdentity caller, HttpContext context, AuditLog auditLog, AuditCursor cursors, CancellationToken cancellationToken)
    {
        var query = context.Request.Query;
        foreach (var (name, values) in query)
        {
            if (!QueryParameters.Contains(name))
            {
                return BadRequest($"unknown parameter '{name}': GET /v1/audit-log takes {string.Join(", ", QueryParameters)}");
            }

            if (values.Count > 1)
            {
                return BadRequest($"{name} is given {values.Count} times: give it once");
            }
        }

        DateTimeOffset? from = null, to = null;
        if (query["from"].ToString() is { Length: > 0 } fromText)
        {
            if (ParseTime(fromText) is not { } parsed)
            {
                return BadRequest(TimeError("from", fromText));
            }

            from = parsed;
        }

        if (query["to"].ToString() is { Length: > 0 } toText)
        {
            if (ParseTime(toText) is not { } parsed)
            {
                return BadRequest(TimeError("to", toText));
            }

            to = parsed;
        }

        if (from >= to)
        {
            return BadRequest($"from ({from:O}) must be before to ({to:O}): from is inclusive, to exclusive");
        }

        var actor = query["actor"].ToString() is { Length: > 0 } actorText ? actorText : null;
        if (actor is { Length: > MaxActorLength })
        {
            return BadRequest($"actor must be at most {MaxActorLength} characters: a user id or an API key id");
        }

        var action = query["action"].ToString() is { Length: > 0 } actionText ? actionText : null;
        if (action is not null && !IsActionName(action))
        {
            return BadRequest($"action '{action}' is not an action name: lowercase words joined by dots, e.g. api_key.create");
        }

        var limit = DefaultLimit;
        if (query["limit"].ToString() is { Length: > 0 } limitText
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxLimit))
        {
            return BadRequest($"limit '{limitText}' must be a whole number from 1 to {MaxLimit}");
        }

        var auditQuery = new AuditQuery(from, to, actor, action, null, limit);
        var binding = AuditCursor.Binding(caller.OrganizationId, auditQuery);
        if (query["cursor"].ToString() is { Length: > 0 } cursorText)
        {
            if (cursors.Unprotect(cursorText, binding, out var cursorError) is not { } before)
            {
                return BadRequest(cursorError!);
            }

            auditQuery = auditQuery with { Before = before };
        }

        var records = await auditLog.ListAsync(caller.OrganizationId, auditQuery, cancellationToken);
        var page = records.Take(limit).ToList();
        if (records.Count > limit)
        {
            context.Response.Headers[NextCursorHeader] = cursors.Protect(binding, page[^1].Sequence);
        }

        return TypedResults.Ok(new AuditLogPage([.. page.Select(AuditLogEntry.From)]));
    }

    private static async Task<Ok<AuditVerification>> Verify(CallerIdentity caller, AuditLog auditLog, ILogger<AuditLog> logger, HttpContext context)
    {
        var (entries, head, broken) = await auditLog.VerifyAsync(caller.OrganizationId, context.RequestAborted);
        if (broken is not null)
        {
            Log.ChainBroken(logger, caller.OrganizationId, broken.Sequence, broken.Reason, context.TraceIdentifier);
        }

        return TypedResults.Ok(new AuditVerification(
            broken is null,
            entries,
            head is null ? null : new AuditChainEntry(head.Sequence, head.Id, Convert.ToHexStringLower(head.Hash)),
            broken is null ? null : new AuditChainBreak(broken.Sequence, broken.Id, broken.Reason)));
    }

    /// <summary>POST /v1/auth/audit (internal key): the gateway records a call another service serves.</summary>
    public static async Task<Results<Created<AuditRecorded>, JsonHttpResult<ErrorResponse>>> Record(HttpRequest request, AuditLog auditLog)
    {
        const string Example =
            """{"organizationId": "<uuid>", "source": "processor", "phase": "intent", "actorKind": "session", "actorId": "user_2abc", "actorRole": "owner", "action": "dlq.replay", "method": "POST", "route": "/v1/dlq/{id}/replay", "targetId": "<id>"}""";
        var (body, error) = await JsonBody.ReadAsync<AuditRecordRequest>(request, Example);
        if (body is null)
        {
            return BadRequest(error!);
        }

        var (organizationId, entry, invalid) = Validate(body, request.HttpContext);
        if (entry is null)
        {
            return BadRequest(invalid!);
        }

        var record = await auditLog.AppendAsync(organizationId, entry, request.HttpContext.RequestAborted);
        return TypedResults.Created((string?)null, new AuditRecorded(record.Id, record.Sequence, Convert.ToHexStringLower(record.Hash)));
    }

    private static (Guid OrganizationId, AuditEntry? Entry, string? Error) Validate(AuditRecordRequest body, HttpContext context)
    {
        if (!Guid.TryParse(body.OrganizationId, out var organizationId) || organizationId == Guid.Empty)
        {
            return Fail($"organizationId {Shown(body.OrganizationId)} must be the caller's organization id (a UUID)");
        }

        if (body.Source is null || !ServiceName().IsMatch(body.Source))
        {
            return Fail($"source {Shown(body.Source)} must name the service that serves the call, e.g. export or processor");
        }

        if (body.Phase is not (AuditPhases.Intent or AuditPhases.Outcome))
        {
            return Fail($"phase {Shown(body.Phase)} must be '{AuditPhases.Intent}' (before forwarding) or '{AuditPhases.Outcome}' (with the status after)");
        }

        if (!AuditActorKinds.IsKnown(body.ActorKind))
        {
            return Fail($"actorKind {Shown(body.ActorKind)} must be '{AuditActorKinds.Session}' or '{AuditActorKinds.ApiKey}'");
        }

        if (string.IsNullOrEmpty(body.ActorId) || body.ActorId.Length > MaxActorLength || body.ActorId.Any(char.IsControl))
        {
            return Fail($"actorId is required: the session's user id or the API key's id, at most {MaxActorLength} printable characters");
        }

        if (body.ActorRole is not null && !Roles.IsKnown(body.ActorRole))
        {
            return Fail($"actorRole '{body.ActorRole}' is not known: it is one of {string.Join(", ", Roles.All)}, or absent for an API key");
        }

        Guid? projectId = null;
        if (body.ProjectId is not null)
        {
            if (!Guid.TryParse(body.ProjectId, out var parsed))
            {
                return Fail($"projectId '{body.ProjectId}' is not a project id (a UUID)");
            }

            projectId = parsed;
        }

        if (body.Action is null || !IsActionName(body.Action))
        {
            return Fail($"action {Shown(body.Action)} must be an action name: lowercase words joined by dots, e.g. dlq.replay");
        }

        if (body.Method is null || !HttpMethodName().IsMatch(body.Method))
        {
            return Fail($"method {Shown(body.Method)} must be the HTTP method, e.g. POST");
        }

        if (body.Route is null || !body.Route.StartsWith('/') || body.Route.Length > MaxRouteLength || body.Route.Any(char.IsControl))
        {
            return Fail($"route {Shown(body.Route)} must be the route's path pattern, starting with '/', at most {MaxRouteLength} characters");
        }

        if (body.TargetId is { } target && (target.Length > MaxTargetLength || target.Any(char.IsControl)))
        {
            return Fail($"targetId must be at most {MaxTargetLength} printable characters");
        }

        if (body.Detail is { Length: > MaxDetailLength })
        {
            return Fail($"detail must be at most {MaxDetailLength} characters");
        }

        switch (body.Phase, body.Status)
        {
            case (AuditPhases.Intent, not null):
                return Fail("status must be absent in an intent: it is recorded before the call is forwarded; send it with the outcome");
            case (AuditPhases.Outcome, null or < 100 or > 599):
                return Fail($"status {Shown(body.Status?.ToString(CultureInfo.InvariantCulture))} is required in an outcome: the HTTP status the service answered (100 to 599)");
        }

        var correlationId = body.CorrelationId ?? context.TraceIdentifier;
        if (CorrelationIdMiddleware.Accept(correlationId) is null)
        {
            return Fail("correlationId must be at most 128 letters, digits, '-', '_', '.' or ':'");
        }

        string? clientAddress = null;
        if (body.ClientAddress is not null)
        {
            if (!IPAddress.TryParse(body.ClientAddress, out var address))
            {
                return Fail($"clientAddress '{body.ClientAddress}' is not an IP address");
            }

            clientAddress = address.ToString();
        }

        foreach (var (field, value) in new[] { ("actorId", body.ActorId), ("targetId", body.TargetId), ("detail", body.Detail), ("route", body.Route) })
        {
            if (value is not null && CredentialShape().IsMatch(value))
            {
                return Fail($"{field} holds what looks like a credential (an API key or a token): the audit log never stores secrets; name a key by its id");
            }
        }

        return (organizationId, new AuditEntry(
            body.Source, body.Phase, body.ActorKind!, body.ActorId, body.ActorRole, projectId, body.Action, body.Method, body.Route,
            body.TargetId, body.Detail, body.Status, correlationId, clientAddress), null);

        static (Guid, AuditEntry?, string?) Fail(string message) => (Guid.Empty, null, message);
    }

    private static string Shown(string? value) => value is null ? "(absent)" : $"'{value}'";

    private static bool IsActionName(string value) => value.Length <= 64 && ActionName().IsMatch(value);

    /// <summary>RFC 3339 with an offset; an unencoded '+' arrives as a space and is read as '+'.</summary>
    private static DateTimeOffset? ParseTime(string value)
    {
        value = value.Replace(' ', '+');
        var match = Rfc3339().Match(value);
        if (!match.Success)
        {
            return null;
        }

        // .NET keeps 7 fractional digits; PostgreSQL keeps 6.
        var fraction = match.Groups["fraction"].Value;
        var normalized = fraction.Length > 8 ? value.Replace(fraction, fraction[..8], StringComparison.Ordinal) : value;
        return DateTimeOffset.TryParse(normalized, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed) ? parsed.ToUniversalTime() : null;
    }

    private static string TimeError(string name, string value)
        => $"{name} '{value}' is not an RFC 3339 time with an offset, e.g. 2026-12-06T19:00:00Z or 2026-12-06T20:00:00%2B01:00";

    private static JsonHttpResult<ErrorResponse> BadRequest(string message) => ErrorResponse.Result(StatusCodes.Status400BadRequest, message);

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?<fraction>\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")]
    private static partial Regex Rfc3339();

    [GeneratedRegex("^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$")]
    private static partial Regex ActionName();

    [GeneratedRegex("^[a-z][a-z0-9-]{0,31}$")]
    private static partial Regex ServiceName();

    [GeneratedRegex("^[A-Z]{3,10}$")]
    private static partial Regex HttpMethodName();

    /// <summary>A tl_ API key (either format), or a JWT (header.payload.signature, the header base64url JSON).</summary>
    [GeneratedRegex(@"tl_[A-Za-z0-9_-]{40,}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")]
    private static partial Regex CredentialShape();

    private static partial class Log
    {
        [LoggerMessage(EventId = 1350, Level = LogLevel.Warning, Message = "Audit log of {OrganizationId} does not verify at entry {Sequence}: {Reason} ({CorrelationId})")]
        public static partial void ChainBroken(ILogger logger, Guid organizationId, long sequence, string reason, string correlationId);

        [LoggerMessage(EventId = 1351, Level = LogLevel.Warning, Message = "The audit log of {OrganizationId} was busy past Auth:Audit:LockTimeout: {Method} {Path} answered 503, nothing changed ({CorrelationId})")]
        public static partial void Busy(ILogger logger, Guid organizationId, string method, string path, string correlationId);
    }

    /// <summary>An append that could not take its organization's chain in time: 503, the change undone with its transaction.</summary>
    public static async Task AnswerBusyAsync(HttpContext context, Func<Task> next)
    {
        try
        {
            await next();
        }
        catch (AuditLogBusyException ex) when (!context.Response.HasStarted)
        {
            var logger = context.RequestServices.GetRequiredService<ILogger<AuditLog>>();
            Log.Busy(logger, ex.OrganizationId, context.Request.Method, context.Request.Path.Value ?? "", context.TraceIdentifier);
            context.Response.Clear();
            context.Response.Headers.RetryAfter = "1";
            await ErrorResponse.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                "the organization's audit log is busy (other changes are being recorded): nothing was changed; retry shortly");
        }
    }
}
