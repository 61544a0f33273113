using Trulayer.ServiceDefaults.OpenApi;

namespace Trulayer.Export.Http;

/// <summary>
/// The query parameters of the export routes as the OpenAPI document shows them: the handlers read them
/// from the query by hand (<see cref="QueryParameters"/>), so each route declares them with
/// <c>.WithQueryParameters(...)</c>. README.md ("Exporting traces" and its subsections, "Usage and cost over time") says the same at length.
/// </summary>
internal static class DocumentedParameters
{
    private const string Time = "RFC 3339 with an offset, e.g. 2026-04-20T00:00:00Z (encode '+' as %2B)";

    public static DocumentedQueryParameter From(string what, bool required, string note = "") =>
        new(QueryParameters.From, $"{what} at or after this time, inclusive ({Time}){note}", Format: "date-time", Required: required);

    public static DocumentedQueryParameter To(string what, bool required, string note = "") =>
        new(QueryParameters.To, $"{what} before this time, exclusive ({Time}){note}", Format: "date-time", Required: required);

    public static readonly DocumentedQueryParameter ProjectId =
        new(QueryParameters.ProjectId, "One project of the caller's organization; without it, every project the session reaches", Format: "uuid");

    /// <summary><c>limit</c> of the lists: 1 to Export:TraceListMaxLimit, Export:TraceListDefaultLimit by default.</summary>
    public static readonly DocumentedQueryParameter ListLimit =
        new(QueryParameters.Limit, "Entries per page, 1 to 1000 (Export__TraceListMaxLimit), 50 by default (Export__TraceListDefaultLimit)", "integer");

    /// <summary><c>limit</c> of the exports: 1 to Export:MaxSpansPerPage, which is also the default.</summary>
    public static readonly DocumentedQueryParameter ExportLimit =
        new(QueryParameters.Limit, "Records per page, 1 to 10000 (Export__MaxSpansPerPage, also the default)", "integer");

    public static readonly DocumentedQueryParameter Cursor =
        new(QueryParameters.Cursor, "The X-Next-Cursor of the previous page, as received, with the same other parameters");

    public static readonly DocumentedQueryParameter Resource =
        new(QueryParameters.ResourcePrefix + "<key>", "resource.<key>=<value>, the resource attribute's key in place of <key> (e.g. resource.deployment.environment=production): its value exactly; several must all match");

    /// <summary>GET /v1/otlp/export and GET /v1/otlp/export/logs.</summary>
    public static DocumentedQueryParameter[] Export(string what) =>
        [From(what, required: true), To(what, required: true), ProjectId, ExportLimit, Cursor];

    /// <summary>The routes of one trace or one session: only the project.</summary>
    public static DocumentedQueryParameter[] OneItem => [ProjectId];
}
