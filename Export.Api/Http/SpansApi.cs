using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;
using Trulayer.Export.Paging;
using Trulayer.Export.Spans;
using Trulayer.Otlp.GenAi;
using Trulayer.Otlp;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Export.Http;

/// <summary>
/// The dashboard's span routes, for sessions only, with the trace list's rules (<see cref="ExportApi"/>):
/// <c>GET /v1/traces/{traceId}/spans</c> (a trace's spans with their promoted fields, whole input and output, and
/// OTLP parts) and <c>GET /v1/spans</c> (the span search, newest first, keyset-paged).
/// </summary>
public static class SpansApi
{
    public const string TraceSpansPath = "/v1/traces/{traceId}/spans";
    public const string ListPath = "/v1/spans";

    /// <summary>The largest duration filter: what a span's duration in nanoseconds can hold.</summary>
    private const double MaxDurationMs = long.MaxValue / 1e6;

    private static readonly IReadOnlyList<string> Types = [.. Enum.GetValues<SpanType>().Select(t => t.ToColumn())];

    public static IEndpointRouteBuilder MapSpansApi(this IEndpointRouteBuilder app)
    {
        app.MapGet(TraceSpansPath, GetTraceSpansAsync).RequireAuthorization(ExportApi.PolicyName).WithQueryParameters(DocumentedParameters.OneItem);
        app.MapGet(ListPath, ListAsync).RequireAuthorization(ExportApi.PolicyName).WithQueryParameters(
            DocumentedParameters.From("Spans that start", required: false, "; required unless trace_id names the trace"),
            DocumentedParameters.To("Spans that start", required: false, "; required unless trace_id names the trace"),
            DocumentedParameters.ProjectId,
            new("trace_id", "Spans of this trace (32 hex digits)"),
            new("type", $"A span type, any case: {string.Join(", ", Types)}"),
            new("model", "The request or the response model, exactly"),
            new("provider", "The normalized provider (openai, anthropic, ...)"),
            new("service", "The resource's service.name, exactly"),
            new("status", "ok, error or unset"),
            new("session_id", "The span's session"),
            new("user_id", "The span's user"),
            new("min_duration_ms", "Spans at least this long, in milliseconds (fractions allowed)", "number"),
            new("max_duration_ms", "Spans at most this long, in milliseconds (fractions allowed)", "number"),
            new("q", "A case-insensitive substring of the span's input or output text"),
            new(QueryParameters.AttributePrefix + "<key>", "attr.<key>=<value>, the span attribute's key in place of <key> (e.g. attr.customer.tier=gold): its value exactly; several must all match"),
            DocumentedParameters.Resource,
            DocumentedParameters.ListLimit,
            DocumentedParameters.Cursor);
        return app;
    }

    internal static async Task<Results<Ok<TraceSpansResponse>, JsonHttpResult<ErrorResponse>>> GetTraceSpansAsync(
        string traceId, HttpContext context, CallerIdentity caller, SpanSearchStore store)
    {
        if (!ExportApi.TryParseTraceId(traceId, out var id))
        {
            return ExportApi.Refuse(Refusal.BadRequest($"traceId '{QueryParameters.Shorten(traceId)}' is not a trace id: give its 32 hex digits"));
        }

        if (QueryParameters.Projects(context.Request.Query, caller, out var projects) is { } badProject)
        {
            return ExportApi.Refuse(badProject);
        }

        TraceSpansResponse? trace;
        try
        {
            trace = await store.ReadTraceAsync(projects, id, context.RequestAborted);
        }
        catch (NpgsqlException ex) when (ex.IsTransient)
        {
            return ExportApi.Unavailable(context);
        }

        if (trace is null)
        {
            return ExportApi.NotFoundIn($"trace {traceId.ToLowerInvariant()}", projects);
        }

        return TypedResults.Ok(trace);
    }

    internal static async Task<Results<Ok<SpanListResponse>, JsonHttpResult<ErrorResponse>>> ListAsync(
        HttpContext context, CallerIdentity caller, SpanSearchStore store, CursorProtector cursors, IOptions<ExportOptions> options)
    {
        var query = context.Request.Query;
        var settings = options.Value;
        if (Filter(query, out var search) is { } badFilter)
        {
            return ExportApi.Refuse(badFilter);
        }

        if (QueryParameters.Projects(query, caller, out var projects) is { } badProject)
        {
            return ExportApi.Refuse(badProject);
        }

        if (QueryParameters.PageLimit(query, settings.TraceListDefaultLimit, settings.TraceListMaxLimit, out var limit) is { } badLimit)
        {
            return ExportApi.Refuse(badLimit);
        }

        var binding = new QueryBinding()
            .Add("organization", caller.OrganizationId)
            .Add("projects", projects)
            .Add(QueryParameters.Limit, limit)
            .Add("search", search with { Attributes = [], Resources = [] })
            .Add("attr", string.Join('\n', search.Attributes))
            .Add("resource", string.Join('\n', search.Resources))
            .Hash();
        SpanKey? after = null;
        if (query[QueryParameters.Cursor].ToString() is { Length: > 0 } cursor)
        {
            if (ExportApi.CheckCursor(cursors, cursor, CursorKind.SpanList, binding, "parameters (every one but cursor)", out var payload) is { } badCursor)
            {
                return ExportApi.Refuse(badCursor);
            }

            after = SpanKeyPayload.FromPayload(payload);
            if (after is null)
            {
                return ExportApi.Refuse(ExportApi.AlteredCursor);
            }
        }

        SpanSearchPage page;
        try
        {
            page = await store.SearchAsync(projects, search, after, limit, context.RequestAborted);
        }
        catch (NpgsqlException ex) when (ex.IsTransient)
        {
            return ExportApi.Unavailable(context);
        }

        if (page.Next is { } next)
        {
            context.Response.Headers[ExportApi.NextCursorHeader] = cursors.Protect(CursorKind.SpanList, binding, next.ToPayload());
        }

        return TypedResults.Ok(new SpanListResponse(page.Spans));
    }

    private static Refusal? Filter(IQueryCollection query, out SpanSearch search)
    {
        search = new SpanSearch(null, null, null, null, null, null, null, null, null, null, null, null, null, [], []);
        Guid? traceId = null;
        if (QueryParameters.Text(query, "trace_id", out var traceText) is { } badTrace)
        {
            return badTrace;
        }

        if (traceText is not null)
        {
            if (!ExportApi.TryParseTraceId(traceText, out var id))
            {
                return Refusal.BadRequest($"trace_id '{QueryParameters.Shorten(traceText)}' is not a trace id: give its 32 hex digits");
            }

            traceId = id;
        }

        // from and to may be left out when trace_id names the trace.
        foreach (var bound in new[] { QueryParameters.From, QueryParameters.To })
        {
            if (traceId is null && query[bound].ToString().Length == 0)
            {
                return Refusal.BadRequest($"{bound} is missing: add {bound}=<RFC 3339 time>, e.g. {bound}={Rfc3339.Example}, or name one trace with trace_id=<32 hex digits>");
            }
        }

        if (QueryParameters.Window(query, required: traceId is null, maxWindow: null, out var from, out var to) is { } badWindow)
        {
            return badWindow;
        }

        var texts = new Dictionary<string, string?>();
        foreach (var name in new[] { "type", "model", "provider", "service", "session_id", "user_id", "q" })
        {
            if (QueryParameters.Text(query, name, out var value) is { } bad)
            {
                return bad;
            }

            texts[name] = value;
        }

        string? type = null;
        if (texts["type"] is { } typeText)
        {
            type = Types.FirstOrDefault(t => t.Equals(typeText, StringComparison.OrdinalIgnoreCase));
            if (type is null)
            {
                return Refusal.BadRequest($"type '{QueryParameters.Shorten(typeText)}' is not a span type: use one of {string.Join(", ", Types)}");
            }
        }

        if (QueryParameters.Status(query, out var status) is { } badStatus)
        {
            return badStatus;
        }

        if (Duration(query, "min_duration_ms", out var min) is { } badMin)
        {
            return badMin;
        }

        if (Duration(query, "max_duration_ms", out var max) is { } badMax)
        {
            return badMax;
        }

        if (min > max)
        {
            return Refusal.BadRequest($"min_duration_ms ({query["min_duration_ms"]}) is more than max_duration_ms ({query["max_duration_ms"]})");
        }

        if (QueryParameters.ExactFilters(query, QueryParameters.AttributePrefix, out var attributes) is { } badAttribute)
        {
            return badAttribute;
        }

        if (QueryParameters.ExactFilters(query, QueryParameters.ResourcePrefix, out var resources) is { } badResource)
        {
            return badResource;
        }

        search = new SpanSearch(
            query[QueryParameters.From].Count > 0 ? from : null,
            query[QueryParameters.To].Count > 0 ? to : null,
            traceId,
            type,
            texts["model"],
            texts["provider"],
            texts["service"],
            status,
            texts["session_id"],
            texts["user_id"],
            min,
            max,
            texts["q"],
            attributes,
            resources);
        return null;
    }

    /// <summary>A duration filter in milliseconds (fractions allowed), as nanoseconds; null when absent.</summary>
    private static Refusal? Duration(IQueryCollection query, string name, out long? nanos)
    {
        nanos = null;
        var value = query[name].ToString();
        if (value.Length == 0)
        {
            return null;
        }

        if (!double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var ms) || !double.IsFinite(ms) || ms > MaxDurationMs)
        {
            return Refusal.BadRequest($"{name} '{QueryParameters.Shorten(value)}' is not a duration in milliseconds: give a number from 0, e.g. {name}=250 or {name}=1.5");
        }

        nanos = (long)Math.Round(ms * 1e6);
        return null;
    }
}
