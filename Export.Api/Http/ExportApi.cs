using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;
using Trulayer.Export.Output;
using Trulayer.Export.Paging;
using Trulayer.Export.Storage;
using Trulayer.Export.Traces;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Export.Http;

/// <summary>
/// The export routes, for dashboard sessions only: <c>GET /v1/otlp/export</c> (a window of spans as OTLP
/// TracesData, keyset-paged over a pinned snapshot), <c>GET /v1/traces/{traceId}</c> (one whole trace) and
/// <c>GET /v1/traces</c> (the trace list); the log routes are <see cref="LogsApi"/>'s. Every query is limited to the caller's projects.
/// </summary>
public static class ExportApi
{
    public const string ExportPath = "/v1/otlp/export";
    public const string TracesPath = "/v1/traces";
    public const string TracePath = "/v1/traces/{traceId}";
    public const string NextCursorHeader = "X-Next-Cursor";
    public const string PolicyName = "dashboard-session";

    /// <summary>Who may read: a session of any of these roles; never an API key.</summary>
    public static readonly IReadOnlyList<string> SessionRoles = [Roles.Owner, Roles.Member, Roles.Viewer];

    internal const string StoreUnavailable = "the trace store cannot be reached right now: retry shortly";

    internal const int MaxFilterLength = 256;

    public static IEndpointRouteBuilder MapExportApi(this IEndpointRouteBuilder app)
    {
        app.MapGet(ExportPath, ExportAsync).RequireAuthorization(PolicyName).WithQueryParameters(DocumentedParameters.Export("Spans that start"));
        app.MapGet(TracesPath, ListTracesAsync).RequireAuthorization(PolicyName).WithQueryParameters(
            DocumentedParameters.From("Traces that start", required: false),
            DocumentedParameters.To("Traces that start", required: false),
            DocumentedParameters.ProjectId,
            new("service", "Traces with a span of this service.name, exactly"),
            new("model", "Traces with a span of this request or response model, exactly"),
            new("status", "error: traces with an error span; ok: the others"),
            new("q", "A case-insensitive prefix of the trace's name"),
            new("session_id", "Traces of this session"),
            new("user_id", "Traces of this user (the root span's, else the earliest span's)"),
            DocumentedParameters.Resource,
            DocumentedParameters.ListLimit,
            DocumentedParameters.Cursor);
        app.MapGet(TracePath, GetTraceAsync).RequireAuthorization(PolicyName).WithQueryParameters(DocumentedParameters.OneItem);
        app.MapLogsApi();
        app.MapSpansApi();
        app.MapSessionsApi();
        return app;
    }

    public static bool MayRead(CallerIdentity caller) => caller.Kind == CallerKind.Session && caller.Role is { } role && SessionRoles.Contains(role);

    internal static async Task<Results<SpanStreamResult, JsonHttpResult<ErrorResponse>>> ExportAsync(
        HttpContext context, CallerIdentity caller, SpanStore store, CursorProtector cursors, IOptions<ExportOptions> options, ILogger<SpanStreamResult> logger)
    {
        var query = context.Request.Query;
        var settings = options.Value;
        if (QueryParameters.Window(query, required: true, settings.MaxWindow, out var from, out var to) is { } badWindow)
        {
            return Refuse(badWindow);
        }

        if (QueryParameters.Projects(query, caller, out var projects) is { } badProject)
        {
            return Refuse(badProject);
        }

        if (QueryParameters.PageLimit(query, settings.MaxSpansPerPage, settings.MaxSpansPerPage, out var limit) is { } badLimit)
        {
            return Refuse(badLimit);
        }

        if (OtlpFormats.Negotiate(context.Request.Headers.Accept) is not { } format)
        {
            return NotAcceptable();
        }

        var binding = new QueryBinding()
            .Add("organization", caller.OrganizationId)
            .Add(QueryParameters.From, from)
            .Add(QueryParameters.To, to)
            .Add("projects", projects)
            .Add(QueryParameters.Limit, limit)
            .Hash();
        ExportPosition? position = null;
        if (query[QueryParameters.Cursor].ToString() is { Length: > 0 } cursor)
        {
            if (CheckCursor(cursors, cursor, CursorKind.Export, binding, "from, to, project_id and limit", out var payload) is { } badCursor)
            {
                return Refuse(badCursor);
            }

            position = ExportPosition.FromPayload(payload);
            if (position is null)
            {
                return Refuse(AlteredCursor);
            }
        }

        ExportPage page;
        try
        {
            page = await store.OpenExportPageAsync(projects, from, to, position, limit, context.RequestAborted);
        }
        catch (NpgsqlException ex) when (ex.IsTransient)
        {
            return Unavailable(context);
        }

        context.Response.RegisterForDisposeAsync(page.Spans);
        var next = page.Next is { } more ? cursors.Protect(CursorKind.Export, binding, more.ToPayload()) : null;
        return new SpanStreamResult(page.Spans, format, next, logger);
    }

    internal static async Task<Results<SpanStreamResult, JsonHttpResult<ErrorResponse>>> GetTraceAsync(
        string traceId, HttpContext context, CallerIdentity caller, SpanStore store, ILogger<SpanStreamResult> logger)
    {
        if (!TryParseTraceId(traceId, out var id))
        {
            return Refuse(Refusal.BadRequest($"traceId '{QueryParameters.Shorten(traceId)}' is not a trace id: give its 32 hex digits"));
        }

        if (QueryParameters.Projects(context.Request.Query, caller, out var projects) is { } badProject)
        {
            return Refuse(badProject);
        }

        if (OtlpFormats.Negotiate(context.Request.Headers.Accept) is not { } format)
        {
            return NotAcceptable();
        }

        SpanPage? page;
        try
        {
            page = await store.OpenTraceAsync(projects, id, context.RequestAborted);
        }
        catch (NpgsqlException ex) when (ex.IsTransient)
        {
            return Unavailable(context);
        }

        if (page is null)
        {
            return NotFoundIn($"trace {traceId.ToLowerInvariant()}", projects);
        }

        context.Response.RegisterForDisposeAsync(page);
        return new SpanStreamResult(page, format, null, logger);
    }

    internal static async Task<Results<Ok<TraceListResponse>, JsonHttpResult<ErrorResponse>>> ListTracesAsync(
        HttpContext context, CallerIdentity caller, TraceListStore store, CursorProtector cursors, IOptions<ExportOptions> options)
    {
        var query = context.Request.Query;
        var settings = options.Value;
        if (QueryParameters.Window(query, required: false, maxWindow: null, out var from, out var to) is { } badWindow)
        {
            return Refuse(badWindow);
        }

        if (QueryParameters.Projects(query, caller, out var projects) is { } badProject)
        {
            return Refuse(badProject);
        }

        if (QueryParameters.PageLimit(query, settings.TraceListDefaultLimit, settings.TraceListMaxLimit, out var limit) is { } badLimit)
        {
            return Refuse(badLimit);
        }

        if (Filter(query, out var filter) is { } badFilter)
        {
            return Refuse(badFilter);
        }

        long? fromBound = query[QueryParameters.From].Count > 0 ? from : null;
        long? toBound = query[QueryParameters.To].Count > 0 ? to : null;
        var binding = new QueryBinding()
            .Add("organization", caller.OrganizationId)
            .Add(QueryParameters.From, fromBound)
            .Add(QueryParameters.To, toBound)
            .Add("projects", projects)
            .Add(QueryParameters.Limit, limit)
            .Add("service", filter.Service)
            .Add("model", filter.Model)
            .Add("status", filter.HasError)
            .Add("q", filter.NamePrefix)
            .Add("session_id", filter.SessionId)
            .Add("user_id", filter.UserId)
            .Add("resource", string.Join('\n', filter.Resources))
            .Hash();
        TraceKey? after = null;
        if (query[QueryParameters.Cursor].ToString() is { Length: > 0 } cursor)
        {
            if (CheckCursor(cursors, cursor, CursorKind.TraceList, binding, "from, to, project_id, limit, service, model, status, q, session_id, user_id and resource.<key>", out var payload) is { } badCursor)
            {
                return Refuse(badCursor);
            }

            after = TraceKey.FromPayload(payload);
            if (after is null)
            {
                return Refuse(AlteredCursor);
            }
        }

        TraceListPage page;
        try
        {
            page = await store.ReadAsync(projects, fromBound, toBound, filter, after, limit, context.RequestAborted);
        }
        catch (NpgsqlException ex) when (ex.IsTransient)
        {
            return Unavailable(context);
        }

        if (page.Next is { } next)
        {
            context.Response.Headers[NextCursorHeader] = cursors.Protect(CursorKind.TraceList, binding, next.ToPayload());
        }

        return TypedResults.Ok(new TraceListResponse(page.Traces));
    }

    /// <summary>401 and 403 bodies: an API key, or a role the routes do not know, is told that a dashboard session is needed.</summary>
    public static Task WriteAuthenticationErrorAsync(HttpContext context, int statusCode, string message)
    {
        if (statusCode == StatusCodes.Status403Forbidden && CallerIdentity.FromPrincipal(context.User) is { } caller)
        {
            message = caller.Kind == CallerKind.ApiKey
                ? $"an API key cannot read spans: GET {context.Request.Path} needs a dashboard session (owner, member or viewer); API keys only send them"
                : $"role '{caller.Role}' may not read spans: GET {context.Request.Path} needs a dashboard session with role 'owner', 'member' or 'viewer'";
        }

        return ErrorResponse.WriteAsync(context, statusCode, message);
    }

    internal static readonly Refusal AlteredCursor =
        Refusal.BadRequest("cursor is not one this service issued, or it was altered: pass X-Next-Cursor exactly as received, or start again without cursor");

    internal static Refusal? CheckCursor(CursorProtector cursors, string cursor, CursorKind kind, byte[] binding, string parameters, out byte[] payload)
        => cursors.Unprotect(cursor, kind, binding, out payload) switch
        {
            CursorCheck.Valid => null,
            CursorCheck.OtherQuery => Refusal.BadRequest(
                $"cursor belongs to another query: send it with the same {parameters} as the request that returned it, or start again without cursor"),
            _ => AlteredCursor,
        };

    private static Refusal? Filter(IQueryCollection query, out TraceListFilter filter)
    {
        filter = new TraceListFilter(null, null, null, null, null, null, []);
        var texts = new Dictionary<string, string?>();
        foreach (var name in new[] { "service", "model", "q", "session_id", "user_id" })
        {
            if (QueryParameters.Text(query, name, out var value) is { } bad)
            {
                return bad;
            }

            texts[name] = value;
        }

        bool? hasError = null;
        if (query["status"].ToString() is { Length: > 0 } status)
        {
            hasError = status.ToLowerInvariant() switch
            {
                "error" => true,
                "ok" => false,
                _ => null,
            };
            if (hasError is null)
            {
                return Refusal.BadRequest($"status '{QueryParameters.Shorten(status)}' is not supported: use status=error for traces with an error span, or status=ok for the others");
            }
        }

        if (QueryParameters.ExactFilters(query, QueryParameters.ResourcePrefix, out var resources) is { } badResource)
        {
            return badResource;
        }

        filter = new TraceListFilter(texts["service"], texts["model"], hasError, texts["q"], texts["session_id"], texts["user_id"], resources);
        return null;
    }

    internal static bool TryParseTraceId(string text, out Guid traceId)
    {
        traceId = Guid.Empty;
        Span<byte> bytes = stackalloc byte[16];
        if (text.Length != 32 || Convert.FromHexString(text, bytes, out _, out var written) != System.Buffers.OperationStatus.Done || written != 16)
        {
            return false;
        }

        traceId = new Guid(bytes, bigEndian: true);
        return true;
    }

    internal static JsonHttpResult<ErrorResponse> Refuse(Refusal refusal) => ErrorResponse.Result(refusal.StatusCode, refusal.Message);

    /// <summary>404 for <paramref name="what"/> (a trace, a session) that none of the projects read holds.</summary>
    internal static JsonHttpResult<ErrorResponse> NotFoundIn(string what, IReadOnlyList<Guid> projects)
        => Refuse(new Refusal(StatusCodes.Status404NotFound, $"{what} not found in {(projects.Count == 1 ? $"project {projects[0]}" : "your organization's projects")}"));

    internal static JsonHttpResult<ErrorResponse> NotAcceptable() => ErrorResponse.Result(
        StatusCodes.Status406NotAcceptable,
        $"Accept names no format this route writes: accept {JsonSpanPageWriter.MediaType} (OTLP/JSON, the default) or {ProtobufSpanPageWriter.MediaType}");

    internal static JsonHttpResult<ErrorResponse> Unavailable(HttpContext context)
    {
        context.Response.Headers.RetryAfter = "1";
        return ErrorResponse.Result(StatusCodes.Status503ServiceUnavailable, StoreUnavailable);
    }
}
