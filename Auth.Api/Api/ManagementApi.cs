using Microsoft.AspNetCore.Http.HttpResults;
using Trulayer.Auth.Access;
using Trulayer.Auth.ApiKeys;
using Trulayer.Auth.Audit;
using Trulayer.Auth.Organizations;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.Api;

public sealed record SessionResponse(string? UserId, SessionOrganization? Organization, string? Role, IReadOnlyList<ProjectInfo> Projects);

public sealed record SessionOrganization(Guid Id, string Name);

public sealed record NameRequest(string? Name);

public sealed record CreateApiKeyRequest(string? Name, string? ProjectId);

/// <summary>A new key: the only answer that ever carries the secret.</summary>
public sealed record CreatedApiKey(
    Guid Id,
    string Name,
    Guid ProjectId,
    string Prefix,
    string Key,
    string CreatedBy,
    DateTimeOffset CreatedAt);

public sealed record AddMemberRequest(string? UserId, string? Role);

public sealed record ChangeRoleRequest(string? Role);

public sealed record ContentPolicyRequest(string? Mode, IReadOnlyList<string?>? Patterns);

/// <summary>
/// Organizations, projects, members and API keys, for the dashboard (through the gateway, which
/// forwards the caller as an identity assertion). Each route is guarded by its row of <see cref="AccessTable"/>.
/// Every query is scoped to the caller's organization; another organization's rows answer 404.
/// </summary>
internal static partial class ManagementApi
{
    private const int MaxNameLength = 100;
    private const int MaxUserIdLength = 200;

    public static IEndpointRouteBuilder MapManagementApi(this IEndpointRouteBuilder app)
    {
        Map(app, AccessTable.GetSession, GetSession);
        Map(app, AccessTable.ListOrganizations, ListOrganizations);
        Map(app, AccessTable.CreateOrganization, CreateOrganization);
        Map(app, AccessTable.ListProjects, ListProjects);
        Map(app, AccessTable.CreateProject, CreateProject);
        Map(app, AccessTable.GetContentPolicy, GetContentPolicy);
        Map(app, AccessTable.SetContentPolicy, SetContentPolicy);
        Map(app, AccessTable.ListApiKeys, ListApiKeys);
        Map(app, AccessTable.CreateApiKey, CreateApiKey);
        Map(app, AccessTable.RevokeApiKey, RevokeApiKey);
        Map(app, AccessTable.ListMembers, ListMembers);
        Map(app, AccessTable.AddMember, AddMember);
        Map(app, AccessTable.ChangeMemberRole, ChangeMemberRole);
        Map(app, AccessTable.RemoveMember, RemoveMember);
        return app;
    }

    /// <summary>Maps a route of the access table, guarded by its policy (a 403 names what the route needs).</summary>
    internal static RouteHandlerBuilder Map(IEndpointRouteBuilder app, RouteAccess route, Delegate handler)
        => app.MapMethods(route.Pattern, [route.Method], handler)
            .RequireAuthorization(route.Policy.Name)
            .WithMetadata(route);

    private static async Task<Ok<SessionResponse>> GetSession(CallerIdentity caller, OrganizationStore organizations, CancellationToken cancellationToken)
    {
        if (caller.Role is null)
        {
            return TypedResults.Ok(new SessionResponse(caller.Subject, null, null, []));
        }

        var name = await organizations.GetOrganizationNameAsync(caller.OrganizationId, cancellationToken) ?? "";
        var projects = await organizations.ListProjectsAsync(caller.OrganizationId, cancellationToken);
        return TypedResults.Ok(new SessionResponse(caller.Subject, new SessionOrganization(caller.OrganizationId, name), caller.Role, projects));
    }

    private static async Task<Ok<IReadOnlyList<OrganizationInfo>>> ListOrganizations(CallerIdentity caller, OrganizationStore organizations, CancellationToken cancellationToken)
        => TypedResults.Ok(await organizations.ListOrganizationsAsync(caller.Subject!, cancellationToken));

    private static async Task<Results<Created<OrganizationInfo>, JsonHttpResult<ErrorResponse>>> CreateOrganization(
        CallerIdentity caller, HttpRequest request, OrganizationStore organizations, ILogger<OrganizationStore> logger)
    {
        var (body, error) = await JsonBody.ReadAsync<NameRequest>(request, """{"name": "Acme"}""");
        var name = JsonBody.ValidName(body?.Name, "name", MaxNameLength, out var nameError);
        if (body is null || name is null)
        {
            return BadRequest(error ?? nameError);
        }

        var organization = await organizations.CreateOrganizationAsync(name, caller.Subject!, Audited(request, caller, AuditActions.CreateOrganization, StatusCodes.Status201Created), request.HttpContext.RequestAborted);
        Log.OrganizationCreated(logger, organization.Id, caller.Subject!, request.HttpContext.TraceIdentifier);
        return TypedResults.Created($"/v1/organizations/{organization.Id}", organization);
    }

    private static async Task<Ok<IReadOnlyList<ProjectInfo>>> ListProjects(CallerIdentity caller, OrganizationStore organizations, CancellationToken cancellationToken)
        => TypedResults.Ok(await organizations.ListProjectsAsync(caller.OrganizationId, cancellationToken));

    private static async Task<Results<Created<ProjectInfo>, JsonHttpResult<ErrorResponse>>> CreateProject(
        CallerIdentity caller, HttpRequest request, OrganizationStore organizations, ILogger<OrganizationStore> logger)
    {
        var (body, error) = await JsonBody.ReadAsync<NameRequest>(request, """{"name": "checkout-service"}""");
        var name = JsonBody.ValidName(body?.Name, "name", MaxNameLength, out var nameError);
        if (body is null || name is null)
        {
            return BadRequest(error ?? nameError);
        }

        var project = await organizations.CreateProjectAsync(caller.OrganizationId, name, Audited(request, caller, AuditActions.CreateProject, StatusCodes.Status201Created), request.HttpContext.RequestAborted);
        if (project is null)
        {
            return ErrorResponse.Result(StatusCodes.Status409Conflict, $"the organization has a project named '{name}' already: choose another name");
        }

        Log.ProjectCreated(logger, project.Id, caller.OrganizationId, caller.Subject!, request.HttpContext.TraceIdentifier);
        return TypedResults.Created($"/v1/projects/{project.Id}", project);
    }

    private static async Task<Results<Ok<ProjectContentPolicy>, JsonHttpResult<ErrorResponse>>> GetContentPolicy(
        string projectId, CallerIdentity caller, OrganizationStore organizations, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(projectId, out var id))
        {
            return BadRequest($"'{projectId}' is not a project id (a UUID; the id field of GET /v1/projects)");
        }

        return await organizations.GetContentPolicyAsync(caller.OrganizationId, id, cancellationToken) is { } policy
            ? TypedResults.Ok(policy)
            : ProjectNotFound(id);
    }

    private static async Task<Results<Ok<ProjectContentPolicy>, JsonHttpResult<ErrorResponse>>> SetContentPolicy(
        string projectId, CallerIdentity caller, HttpRequest request, OrganizationStore organizations, ILogger<OrganizationStore> logger)
    {
        const string Example = """{"mode": "redact", "patterns": ["ACME-[0-9]{6}"]}""";
        if (!Guid.TryParse(projectId, out var id))
        {
            return BadRequest($"'{projectId}' is not a project id (a UUID; the id field of GET /v1/projects)");
        }

        var (body, error) = await JsonBody.ReadAsync<ContentPolicyRequest>(request, Example);
        if (body is null)
        {
            return BadRequest(error!);
        }

        if (ContentPolicy.ParseMode(body.Mode) is not { } mode)
        {
            return BadRequest($"mode {(body.Mode is null ? "is required" : $"'{body.Mode}' is not known")}: it is one of store, drop, redact; send e.g. {Example}");
        }

        if (ContentPolicy.PatternsError(body.Patterns, mode) is { } patternsError)
        {
            return BadRequest(patternsError);
        }

        var policy = new ContentPolicy(mode, [.. (body.Patterns ?? []).Select(p => p!)]);
        var stored = await organizations.SetContentPolicyAsync(
            caller.OrganizationId, id, policy, caller.Subject!, Audited(request, caller, AuditActions.SetContentPolicy, StatusCodes.Status200OK), request.HttpContext.RequestAborted);
        if (stored is null)
        {
            return ProjectNotFound(id);
        }

        Log.ContentPolicySet(logger, id, stored.Mode, stored.Patterns.Count, caller.Subject!, request.HttpContext.TraceIdentifier);
        return TypedResults.Ok(stored);
    }

    private static async Task<Results<Ok<IReadOnlyList<ApiKeyInfo>>, JsonHttpResult<ErrorResponse>>> ListApiKeys(
        CallerIdentity caller, HttpRequest request, ApiKeyStore apiKeys, CancellationToken cancellationToken)
    {
        Guid? projectId = null;
        if (request.Query["project_id"].ToString() is { Length: > 0 } value)
        {
            if (!Guid.TryParse(value, out var parsed))
            {
                return BadRequest($"project_id '{value}' is not a project id (a UUID)");
            }

            projectId = parsed;
        }

        return TypedResults.Ok(await apiKeys.ListAsync(caller.OrganizationId, projectId, cancellationToken));
    }

    private static async Task<Results<Created<CreatedApiKey>, JsonHttpResult<ErrorResponse>>> CreateApiKey(
        CallerIdentity caller, HttpRequest request, ApiKeyStore apiKeys, ILogger<ApiKeyStore> logger)
    {
        const string Example = """{"name": "production collector", "projectId": "<a project id>"}""";
        var (body, error) = await JsonBody.ReadAsync<CreateApiKeyRequest>(request, Example);
        var name = JsonBody.ValidName(body?.Name, "name", MaxNameLength, out var nameError);
        if (body is null || name is null)
        {
            return BadRequest(error ?? nameError);
        }

        if (!Guid.TryParse(body.ProjectId, out var projectId))
        {
            return BadRequest(string.IsNullOrEmpty(body.ProjectId)
                ? $"projectId is required: an API key writes to one project; send e.g. {Example}"
                : $"projectId '{body.ProjectId}' is not a project id (a UUID)");
        }

        var created = await apiKeys.CreateAsync(
            caller.OrganizationId, projectId, name, caller.Subject!, Audited(request, caller, AuditActions.CreateApiKey, StatusCodes.Status201Created), request.HttpContext.RequestAborted);
        if (created is not { } key)
        {
            return ProjectNotFound(projectId);
        }

        Log.ApiKeyCreated(logger, key.Info.Id, projectId, caller.Subject!, request.HttpContext.TraceIdentifier);
        var info = key.Info;
        return TypedResults.Created(
            $"/v1/api-keys/{info.Id}",
            new CreatedApiKey(info.Id, info.Name, info.ProjectId, info.Prefix, key.Secret, info.CreatedBy, info.CreatedAt));
    }

    private static async Task<Results<NoContent, JsonHttpResult<ErrorResponse>>> RevokeApiKey(
        string keyId, CallerIdentity caller, ApiKeyStore apiKeys, ILogger<ApiKeyStore> logger, HttpContext context)
    {
        if (!Guid.TryParse(keyId, out var id))
        {
            return BadRequest($"'{keyId}' is not an API key id (a UUID; the id field of GET /v1/api-keys)");
        }

        if (await apiKeys.RevokeAsync(caller.OrganizationId, id, AuditEntry.ForChange(context, caller, AuditActions.RevokeApiKey, StatusCodes.Status204NoContent), context.RequestAborted) is null)
        {
            return ErrorResponse.Result(StatusCodes.Status404NotFound, $"API key {id} not found in your organization");
        }

        Log.ApiKeyRevoked(logger, id, caller.Subject!, context.TraceIdentifier);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<IReadOnlyList<MemberInfo>>> ListMembers(CallerIdentity caller, OrganizationStore organizations, CancellationToken cancellationToken)
        => TypedResults.Ok(await organizations.ListMembersAsync(caller.OrganizationId, cancellationToken));

    private static async Task<Results<Created<MemberInfo>, JsonHttpResult<ErrorResponse>>> AddMember(
        CallerIdentity caller, HttpRequest request, OrganizationStore organizations, ILogger<OrganizationStore> logger)
    {
        var (body, error) = await JsonBody.ReadAsync<AddMemberRequest>(request, """{"userId": "user_2abc", "role": "member"}""");
        var userId = JsonBody.ValidName(body?.UserId, "userId", MaxUserIdLength, out var userError);
        if (body is null || userId is null)
        {
            return BadRequest(error ?? userError);
        }

        if (!Roles.IsKnown(body.Role))
        {
            return BadRequest(RoleError(body.Role));
        }

        var (result, member) = await organizations.AddMemberAsync(
            caller.OrganizationId, userId, body.Role!, Audited(request, caller, AuditActions.AddMember, StatusCodes.Status201Created), request.HttpContext.RequestAborted);
        if (result == MemberChange.Exists)
        {
            return ErrorResponse.Result(StatusCodes.Status409Conflict, $"{userId} is a member already: change their role with PATCH /v1/members/{userId}");
        }

        Log.MemberChanged(logger, caller.OrganizationId, userId, body.Role!, caller.Subject!, request.HttpContext.TraceIdentifier);
        return TypedResults.Created($"/v1/members/{Uri.EscapeDataString(userId)}", member!);
    }

    private static async Task<Results<Ok<MemberInfo>, JsonHttpResult<ErrorResponse>>> ChangeMemberRole(
        string userId, CallerIdentity caller, HttpRequest request, OrganizationStore organizations, ILogger<OrganizationStore> logger)
    {
        var (body, error) = await JsonBody.ReadAsync<ChangeRoleRequest>(request, """{"role": "viewer"}""");
        if (body is null)
        {
            return BadRequest(error!);
        }

        if (!Roles.IsKnown(body.Role))
        {
            return BadRequest(RoleError(body.Role));
        }

        var (result, member) = await organizations.ChangeMemberAsync(
            caller.OrganizationId, userId, body.Role, Audited(request, caller, AuditActions.ChangeMemberRole, StatusCodes.Status200OK), request.HttpContext.RequestAborted);
        if (MemberChangeError(result, userId) is { } refusal)
        {
            return refusal;
        }

        Log.MemberChanged(logger, caller.OrganizationId, userId, body.Role!, caller.Subject!, request.HttpContext.TraceIdentifier);
        return TypedResults.Ok(member!);
    }

    private static async Task<Results<NoContent, JsonHttpResult<ErrorResponse>>> RemoveMember(
        string userId, CallerIdentity caller, OrganizationStore organizations, ILogger<OrganizationStore> logger, HttpContext context)
    {
        var (result, _) = await organizations.ChangeMemberAsync(
            caller.OrganizationId, userId, null, AuditEntry.ForChange(context, caller, AuditActions.RemoveMember, StatusCodes.Status204NoContent), context.RequestAborted);
        if (MemberChangeError(result, userId) is { } refusal)
        {
            return refusal;
        }

        Log.MemberChanged(logger, caller.OrganizationId, userId, "(removed)", caller.Subject!, context.TraceIdentifier);
        return TypedResults.NoContent();
    }

    private static JsonHttpResult<ErrorResponse>? MemberChangeError(MemberChange result, string userId) => result switch
    {
        MemberChange.NotFound => ErrorResponse.Result(StatusCodes.Status404NotFound, $"{userId} is not a member of your organization"),
        MemberChange.LastOwner => ErrorResponse.Result(StatusCodes.Status409Conflict, $"{userId} is the organization's only owner: make someone else owner first"),
        _ => null,
    };

    private static string RoleError(string? role)
        => $"role {(role is null ? "is required" : $"'{role}' is not known")}: it is one of {string.Join(", ", Roles.All)}";

    private static AuditEntry Audited(HttpRequest request, CallerIdentity caller, string action, int status)
        => AuditEntry.ForChange(request.HttpContext, caller, action, status);

    private static JsonHttpResult<ErrorResponse> ProjectNotFound(Guid projectId)
        => ErrorResponse.Result(StatusCodes.Status404NotFound, $"project {projectId} not found in your organization (GET /v1/projects lists them)");

    private static JsonHttpResult<ErrorResponse> BadRequest(string message) => ErrorResponse.Result(StatusCodes.Status400BadRequest, message);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1330, Level = LogLevel.Information, Message = "Organization {OrganizationId} created by {UserId} ({CorrelationId})")]
        public static partial void OrganizationCreated(ILogger logger, Guid organizationId, string userId, string correlationId);

        [LoggerMessage(EventId = 1331, Level = LogLevel.Information, Message = "Project {ProjectId} created in {OrganizationId} by {UserId} ({CorrelationId})")]
        public static partial void ProjectCreated(ILogger logger, Guid projectId, Guid organizationId, string userId, string correlationId);

        [LoggerMessage(EventId = 1332, Level = LogLevel.Information, Message = "API key {KeyId} of project {ProjectId} created by {UserId} ({CorrelationId})")]
        public static partial void ApiKeyCreated(ILogger logger, Guid keyId, Guid projectId, string userId, string correlationId);

        [LoggerMessage(EventId = 1333, Level = LogLevel.Information, Message = "API key {KeyId} revoked by {UserId} ({CorrelationId})")]
        public static partial void ApiKeyRevoked(ILogger logger, Guid keyId, string userId, string correlationId);

        [LoggerMessage(EventId = 1334, Level = LogLevel.Information, Message = "Member {MemberId} of {OrganizationId} is now {Role}, by {UserId} ({CorrelationId})")]
        public static partial void MemberChanged(ILogger logger, Guid organizationId, string memberId, string role, string userId, string correlationId);

        [LoggerMessage(EventId = 1335, Level = LogLevel.Information, Message = "Content policy of project {ProjectId} set to {Mode} ({Patterns} own patterns) by {UserId}; ingest applies it once the gateway's cached verdicts expire ({CorrelationId})")]
        public static partial void ContentPolicySet(ILogger logger, Guid projectId, string mode, int patterns, string userId, string correlationId);
    }
}
