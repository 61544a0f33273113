using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;
using Trulayer.Export.Logs;
using Trulayer.Export.Output;
using Trulayer.Export.Paging;
using Trulayer.Export.Storage;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Export.Http;

/// <summary>
/// The log routes, for dashboard sessions only, with the span routes' rules (<see cref="ExportApi"/>):
/// <c>GET /v1/traces/{traceId}/logs</c> (a trace's records as OTLP LogsData), <c>GET /v1/otlp/export/logs</c>
/// (a window of records, keyset-paged over a pinned snapshot, like the span export) and <c>GET /v1/logs</c>
/// (the dashboard's list, newest first).
/// </summary>
public static class LogsApi
{
    public const string ExportPath = "/v1/otlp/export/logs";
    public const string ListPath = "/v1/logs";
    public const string TraceLogsPath = "/v1/traces/{traceId}/logs";

    public static IEndpointRouteBuilder MapLogsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet(ExportPath, ExportAsync).RequireAuthorization(ExportApi.PolicyName).WithQueryParameters(DocumentedParameters.Export("Records whose time is"));
        app.MapGet(ListPath, ListAsync).RequireAuthorization(ExportApi.PolicyName).WithQueryParameters(
            DocumentedParameters.From("Records whose time is", required: true),
            DocumentedParameters.To("Records whose time is", required: true),
            DocumentedParameters.ProjectId,
            new("service", "The resource's service.name, exactly"),
            new("severity", $"A minimum severity: {string.Join(", ", LogSeverity.Names)}"),
            new("trace_id", "Records of this trace (32 hex digits)"),
            new("q", "A case-insensitive substring of the body's text"),
            DocumentedParameters.ListLimit,
            DocumentedParameters.Cursor);
        app.MapGet(TraceLogsPath, GetTraceLogsAsync).RequireAuthorization(ExportApi.PolicyName).WithQueryParameters(DocumentedParameters.OneItem);
        return app;
    }

    internal static async Task<Results<SpanStreamResult, JsonHttpResult<ErrorResponse>>> ExportAsync(
        HttpContext context, CallerIdentity caller, LogStore store, CursorProtector cursors, IOptions<ExportOptions> options, ILogger<SpanStreamResult> logger)
    {
        var query = context.Request.Query;
        var settings = options.Value;
        if (QueryParameters.Window(query, required: true, settings.MaxWindow, out var from, out var to) is { } badWindow)
        {
            return ExportApi.Refuse(badWindow);
        }

        if (QueryParameters.Projects(query, caller, out var projects) is { } badProject)
        {
            return ExportApi.Refuse(badProject);
        }

        if (QueryParameters.PageLimit(query, settings.MaxSpansPerPage, settings.MaxSpansPerPage, out var limit) is { } badLimit)
        {
            return ExportApi.Refuse(badLimit);
        }

        if (OtlpFormats.Negotiate(context.Request.Headers.Accept) is not { } format)
        {
            return ExportApi.NotAcceptable();
        }

        var binding = new QueryBinding()
            .Add("organization", caller.OrganizationId)
            .Add(QueryParameters.From, from)
            .Add(QueryParameters.To, to)
            .Add("projects", projects)
            .Add(QueryParameters.Limit, limit)
            .Hash();
        LogKey? after = null;
        string? snapshot = null;
        if (query[QueryParameters.Cursor].ToString() is { Length: > 0 } cursor)
        {
            if (ExportApi.CheckCursor(cursors, cursor, CursorKind.LogExport, binding, "from, to, project_id and limit", out var payload) is { } badCursor)
            {
                return ExportApi.Refuse(badCursor);
            }

            if (LogKey.FromPayload(payload) is not { Snapshot.Length: > 0 } position)
            {
                return ExportApi.Refuse(ExportApi.AlteredCursor);
            }

            (after, snapshot) = (position.Key, position.Snapshot);
        }

        LogExportPage page;
        try
        {
            page = await store.OpenExportPageAsync(projects, from, to, after, snapshot, limit, context.RequestAborted);
        }
        catch (NpgsqlException ex) when (ex.IsTransient)
        {
            return ExportApi.Unavailable(context);
        }

        context.Response.RegisterForDisposeAsync(page.Records);
        var next = page.Next is { } more ? cursors.Protect(CursorKind.LogExport, binding, more.ToPayload(page.Snapshot)) : null;
        return new SpanStreamResult(page.Records, format, next, logger, OtlpSignal.Logs);
    }

    internal static async Task<Results<SpanStreamResult, JsonHttpResult<ErrorResponse>>> GetTraceLogsAsync(
        string traceId, HttpContext context, CallerIdentity caller, LogStore store, ILogger<SpanStreamResult> logger)
    {
        if (!ExportApi.TryParseTraceId(traceId, out var id))
        {
            return ExportApi.Refuse(Refusal.BadRequest($"traceId '{QueryParameters.Shorten(traceId)}' is not a trace id: give its 32 hex digits"));
        }

        if (QueryParameters.Projects(context.Request.Query, caller, out var projects) is { } badProject)
        {
            return ExportApi.Refuse(badProject);
        }

        if (OtlpFormats.Negotiate(context.Request.Headers.Accept) is not { } format)
        {
            return ExportApi.NotAcceptable();
        }

        SpanPage page;
        try
        {
            page = await store.OpenTraceAsync(projects, id, context.RequestAborted);
        }
        catch (NpgsqlException ex) when (ex.IsTransient)
        {
            return ExportApi.Unavailable(context);
        }

        context.Response.RegisterForDisposeAsync(page);
        return new SpanStreamResult(page, format, null, logger, OtlpSignal.Logs);
    }

    internal static async Task<Results<Ok<LogListResponse>, JsonHttpResult<ErrorResponse>>> ListAsync(
        HttpContext context, CallerIdentity caller, LogStore store, CursorProtector cursors, IOptions<ExportOptions> options)
    {
        var query = context.Request.Query;
        var settings = options.Value;
        if (QueryParameters.Window(query, required: true, maxWindow: null, out var from, out var to) is { } badWindow)
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

        if (Filter(query, out var filter) is { } badFilter)
        {
            return ExportApi.Refuse(badFilter);
        }

        var binding = new QueryBinding()
            .Add("organization", caller.OrganizationId)
            .Add(QueryParameters.From, from)
            .Add(QueryParameters.To, to)
            .Add("projects", projects)
            .Add(QueryParameters.Limit, limit)
            .Add("service", filter.Service)
            .Add("severity", filter.MinimumSeverity)
            .Add("trace_id", filter.TraceId?.ToString("N"))
            .Add("q", filter.Text)
            .Hash();
        LogKey? after = null;
        if (query[QueryParameters.Cursor].ToString() is { Length: > 0 } cursor)
        {
            if (ExportApi.CheckCursor(cursors, cursor, CursorKind.LogList, binding, "from, to, project_id, limit, service, severity, trace_id and q", out var payload) is { } badCursor)
            {
                return ExportApi.Refuse(badCursor);
            }

            if (LogKey.FromPayload(payload) is not { Snapshot.Length: 0 } position)
            {
                return ExportApi.Refuse(ExportApi.AlteredCursor);
            }

            after = position.Key;
        }

        LogListPage page;
        try
        {
            page = await store.ListAsync(projects, from, to, filter, after, limit, context.RequestAborted);
        }
        catch (NpgsqlException ex) when (ex.IsTransient)
        {
            return ExportApi.Unavailable(context);
        }

        if (page.Next is { } next)
        {
            context.Response.Headers[ExportApi.NextCursorHeader] = cursors.Protect(CursorKind.LogList, binding, next.ToPayload());
        }

        return TypedResults.Ok(new LogListResponse(page.Logs));
    }

    private static Refusal? Filter(IQueryCollection query, out LogListFilter filter)
    {
        filter = new LogListFilter(null, null, null, null);
        string? Text(string name) => query[name].ToString() is { Length: > 0 } value ? value : null;
        foreach (var name in new[] { "service", "q" })
        {
            if (QueryParameters.Text(query, name, out _) is { } tooLong)
            {
                return tooLong;
            }
        }

        short? severity = null;
        if (Text("severity") is { } severityText)
        {
            severity = LogSeverity.Parse(severityText);
            if (severity is null)
            {
                return Refusal.BadRequest(
                    $"severity '{QueryParameters.Shorten(severityText)}' is not a severity: use one of {string.Join(", ", LogSeverity.Names)} (a minimum: warn also returns error and fatal)");
            }
        }

        Guid? traceId = null;
        if (Text("trace_id") is { } traceText)
        {
            if (!ExportApi.TryParseTraceId(traceText, out var id))
            {
                return Refusal.BadRequest($"trace_id '{QueryParameters.Shorten(traceText)}' is not a trace id: give its 32 hex digits");
            }

            traceId = id;
        }

        filter = new LogListFilter(Text("service"), severity, traceId, Text("q"));
        return null;
    }
}
