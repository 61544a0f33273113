using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;
using Trulayer.Export.Paging;
using Trulayer.Export.Sessions;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Export.Http;

/// <summary>
/// The session routes, for dashboard sessions only, with the trace list's rules (<see cref="ExportApi"/>):
/// <c>GET /v1/sessions</c> (newest activity first, keyset-paged) and <c>GET /v1/sessions/{sessionId}</c> (its summary
/// and its traces in time order, each with the input and output of its root or first LLM call).
/// </summary>
public static class SessionsApi
{
    public const string ListPath = "/v1/sessions";
    public const string SessionPath = "/v1/sessions/{sessionId}";

    public static IEndpointRouteBuilder MapSessionsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet(ListPath, ListAsync).RequireAuthorization(ExportApi.PolicyName).WithQueryParameters(
            DocumentedParameters.From("Sessions whose last activity is", required: false),
            DocumentedParameters.To("Sessions whose last activity is", required: false),
            DocumentedParameters.ProjectId,
            new("user_id", "Sessions one of whose traces is this user's"),
            DocumentedParameters.ListLimit,
            DocumentedParameters.Cursor);
        app.MapGet(SessionPath, GetAsync).RequireAuthorization(ExportApi.PolicyName).WithQueryParameters(DocumentedParameters.OneItem);
        return app;
    }

    internal static async Task<Results<Ok<SessionListResponse>, JsonHttpResult<ErrorResponse>>> ListAsync(
        HttpContext context, CallerIdentity caller, SessionStore store, CursorProtector cursors, IOptions<ExportOptions> options)
    {
        var query = context.Request.Query;
        var settings = options.Value;
        if (QueryParameters.Window(query, required: false, maxWindow: null, out var from, out var to) is { } badWindow)
        {
            return ExportApi.Refuse(badWindow);
        }

        if (QueryParameters.Projects(query, caller, out var projects) is { } badProject)
        {
            return ExportApi.Refuse(badProject);
        }

        if (QueryParameters.PageLimit(query, settings.TraceListDefaultLimit, settings.TraceListMaxLimit, out var limit) is { } badLimit)
        {
            return ExportApi.Refuse(badLimit);
        }

        if (QueryParameters.Text(query, "user_id", out var userId) is { } badUser)
        {
            return ExportApi.Refuse(badUser);
        }

        long? fromBound = query[QueryParameters.From].Count > 0 ? from : null;
        long? toBound = query[QueryParameters.To].Count > 0 ? to : null;
        var binding = new QueryBinding()
            .Add("organization", caller.OrganizationId)
            .Add(QueryParameters.From, fromBound)
            .Add(QueryParameters.To, toBound)
            .Add("projects", projects)
            .Add(QueryParameters.Limit, limit)
            .Add("user_id", userId)
            .Hash();
        SessionKey? after = null;
        if (query[QueryParameters.Cursor].ToString() is { Length: > 0 } cursor)
        {
            if (ExportApi.CheckCursor(cursors, cursor, CursorKind.SessionList, binding, "from, to, project_id, limit and user_id", out var payload) is { } badCursor)
            {
                return ExportApi.Refuse(badCursor);
            }

            after = SessionKey.FromPayload(payload);
            if (after is null)
            {
                return ExportApi.Refuse(ExportApi.AlteredCursor);
            }
        }

        SessionListPage page;
        try
        {
            page = await store.ListAsync(projects, fromBound, toBound, userId, after, limit, context.RequestAborted);
        }
        catch (NpgsqlException ex) when (ex.IsTransient)
        {
            return ExportApi.Unavailable(context);
        }

        if (page.Next is { } next)
        {
            context.Response.Headers[ExportApi.NextCursorHeader] = cursors.Protect(CursorKind.SessionList, binding, next.ToPayload());
        }

        return TypedResults.Ok(new SessionListResponse(page.Sessions));
    }

    internal static async Task<Results<Ok<SessionDetail>, JsonHttpResult<ErrorResponse>>> GetAsync(
        string sessionId, HttpContext context, CallerIdentity caller, SessionStore store)
    {
        if (sessionId.Length > ExportApi.MaxFilterLength)
        {
            return ExportApi.Refuse(Refusal.BadRequest($"sessionId '{QueryParameters.Shorten(sessionId)}' is longer than {ExportApi.MaxFilterLength} characters"));
        }

        if (QueryParameters.Projects(context.Request.Query, caller, out var projects) is { } badProject)
        {
            return ExportApi.Refuse(badProject);
        }

        SessionDetail? session;
        try
        {
            session = await store.ReadAsync(projects, sessionId, context.RequestAborted);
        }
        catch (NpgsqlException ex) when (ex.IsTransient)
        {
            return ExportApi.Unavailable(context);
        }

        if (session is null)
        {
            return ExportApi.NotFoundIn($"session '{QueryParameters.Shorten(sessionId)}'", projects);
        }

        return TypedResults.Ok(session);
    }
}
