using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Trulayer.Ingest.Grpc;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Ingest.Http;

/// <summary>
/// OTLP/HTTP export of traces and logs: <c>POST /v1/otlp/traces</c>, <c>/v1/otlp/logs</c> and the
/// <c>/v1/otlp/v1/traces</c>, <c>/v1/otlp/v1/logs</c> a Collector's otlphttp exporter calls when its
/// endpoint ends in <c>/v1/otlp</c>, protobuf or JSON, gzip, deflate or uncompressed. HTTP concerns only:
/// media types, decompression, limits, status codes; the export itself is <see cref="IngestService"/>'s.
/// Metrics are refused on purpose (<see cref="MetricsRefusal"/>).
/// </summary>
public static class IngestHttpApi
{
    public const string TracesPath = "/v1/otlp/traces";
    public const string CollectorTracesPath = "/v1/otlp/v1/traces";
    public const string LogsPath = "/v1/otlp/logs";
    public const string CollectorLogsPath = "/v1/otlp/v1/logs";
    public const string MetricsPath = "/v1/otlp/metrics";
    public const string CollectorMetricsPath = "/v1/otlp/v1/metrics";
    public const string PolicyName = "otlp-export";

    /// <summary>
    /// Why metrics are refused, in every answer to a metrics export. 404 (gRPC UNIMPLEMENTED) because
    /// OTLP clients retry only 429, 502, 503 and 504 (and some SDKs any 5xx): a Collector drops the batch
    /// as a permanent error and logs this message instead of retrying it forever.
    /// </summary>
    public const string MetricsRefusal =
        "Trulayer does not accept OTLP metrics: it derives token usage (gen_ai.client.token.usage) and durations "
        + "(gen_ai.client.operation.duration) from the spans it stores. Send traces (/v1/otlp/v1/traces) and logs "
        + "(/v1/otlp/v1/logs); remove Trulayer from your metrics pipeline. Retrying will not help.";

    public static IEndpointRouteBuilder MapIngestApi(this IEndpointRouteBuilder app)
    {
        app.MapPost(TracesPath, ExportTracesAsync).RequireAuthorization(PolicyName);
        app.MapPost(CollectorTracesPath, ExportTracesAsync).RequireAuthorization(PolicyName);
        app.MapPost(LogsPath, ExportLogsAsync).RequireAuthorization(PolicyName);
        app.MapPost(CollectorLogsPath, ExportLogsAsync).RequireAuthorization(PolicyName);
        app.MapPost(MetricsPath, RefuseMetrics).RequireAuthorization(PolicyName);
        app.MapPost(CollectorMetricsPath, RefuseMetrics).RequireAuthorization(PolicyName);
        app.MapPost(OtlpGrpcApi.ExportPath, OtlpGrpcApi.ExportTracesAsync).RequireAuthorization(PolicyName);
        app.MapPost(OtlpGrpcApi.LogsExportPath, OtlpGrpcApi.ExportLogsAsync).RequireAuthorization(PolicyName);
        app.MapPost(OtlpGrpcApi.MetricsExportPath, OtlpGrpcApi.RefuseMetrics).RequireAuthorization(PolicyName);
        return app;
    }

    public static Task<OtlpHttpResult> ExportTracesAsync(HttpContext context, CallerIdentity caller, IngestService ingest, IngestMetrics metrics)
        => ExportAsync(context, caller, ingest, metrics, OtlpSignal.Traces);

    public static Task<OtlpHttpResult> ExportLogsAsync(HttpContext context, CallerIdentity caller, IngestService ingest, IngestMetrics metrics)
        => ExportAsync(context, caller, ingest, metrics, OtlpSignal.Logs);

    /// <summary>A metrics export: refused with a permanent status and the reason (<see cref="MetricsRefusal"/>).</summary>
    public static OtlpHttpResult RefuseMetrics(HttpContext context, IngestMetrics metrics)
    {
        var encoding = TryParseMediaType(context.Request.ContentType, out var parsed, out _) ? parsed : OtlpEncoding.Json;
        metrics.RequestCompleted("http", "404");
        return OtlpHttpResult.Error(StatusCodes.Status404NotFound, MetricsRefusal, encoding);
    }

    private static async Task<OtlpHttpResult> ExportAsync(HttpContext context, CallerIdentity caller, IngestService ingest, IngestMetrics metrics, OtlpSignal signal)
    {
        var result = await HandleAsync(context, caller, ingest, signal);
        metrics.RequestCompleted("http", result.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return result;
    }

    private static async Task<OtlpHttpResult> HandleAsync(HttpContext context, CallerIdentity caller, IngestService ingest, OtlpSignal signal)
    {
        var request = context.Request;
        if (!TryParseMediaType(request.ContentType, out var encoding, out var mediaProblem))
        {
            return OtlpHttpResult.Error(StatusCodes.Status415UnsupportedMediaType, mediaProblem, OtlpEncoding.Json);
        }

        if (!TryParseContentEncoding(request.Headers.ContentEncoding, out var coding, out var codingProblem))
        {
            return OtlpHttpResult.Error(StatusCodes.Status415UnsupportedMediaType, codingProblem, encoding);
        }

        var project = IngestProject.Resolve(caller, request.Query[IngestProject.ParameterName]);
        if (!project.Resolved)
        {
            return OtlpHttpResult.Error(project.StatusCode, project.Error!, encoding);
        }

        PooledBody body;
        try
        {
            body = await RequestBodyReader.ReadHttpAsync(request, coding, ingest.Options.MaxRequestBytes, context.RequestAborted);
        }
        catch (RequestBodyException ex)
        {
            return OtlpHttpResult.Error(ex.StatusCode, ex.Message, encoding);
        }

        using (body)
        {
            var result = await ingest.IngestAsync(new IngestRequest(body.Memory, encoding, project.ProjectId, "http", signal, caller.OrganizationId, caller.ContentPolicyFor(project.ProjectId)), context.RequestAborted);
            return result.Status switch
            {
                IngestStatus.Accepted => OtlpHttpResult.Success(signal, result, encoding),
                IngestStatus.Invalid => OtlpHttpResult.Error(StatusCodes.Status400BadRequest, result.Message, encoding),
                IngestStatus.TooLarge => OtlpHttpResult.Error(StatusCodes.Status413PayloadTooLarge, result.Message, encoding),
                _ => OtlpHttpResult.Error(StatusCodes.Status503ServiceUnavailable, result.Message, encoding, result.RetryAfter),
            };
        }
    }

    /// <summary>The encoding a Content-Type names; parameters such as charset are allowed (JSON must be UTF-8).</summary>
    public static bool TryParseMediaType(string? contentType, out OtlpEncoding encoding, out string problem)
    {
        encoding = OtlpEncoding.Json;
        problem = "";
        if (string.IsNullOrWhiteSpace(contentType) || !MediaTypeHeaderValue.TryParse(contentType, out var mediaType))
        {
            problem = $"Content-Type '{contentType}' is not supported: send {OtlpHttpResult.ProtobufContentType} or {OtlpHttpResult.JsonContentType}";
            return false;
        }

        if (mediaType.MediaType.Equals(OtlpHttpResult.ProtobufContentType, StringComparison.OrdinalIgnoreCase)
            || mediaType.MediaType.Equals("application/protobuf", StringComparison.OrdinalIgnoreCase))
        {
            encoding = OtlpEncoding.Protobuf;
            return true;
        }

        if (mediaType.MediaType.Equals(OtlpHttpResult.JsonContentType, StringComparison.OrdinalIgnoreCase))
        {
            var charset = mediaType.Charset;
            if (charset.HasValue && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase))
            {
                problem = $"JSON in charset '{charset}' is not supported: send UTF-8";
                return false;
            }

            return true;
        }

        problem = $"Content-Type '{mediaType.MediaType}' is not supported: send {OtlpHttpResult.ProtobufContentType} or {OtlpHttpResult.JsonContentType}";
        return false;
    }

    public static bool TryParseContentEncoding(StringValues header, out ContentCoding coding, out string problem)
    {
        coding = ContentCoding.Identity;
        problem = "";
        var value = header.ToString().Trim();
        if (value.Length == 0 || value.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (value.Equals("gzip", StringComparison.OrdinalIgnoreCase) || value.Equals("x-gzip", StringComparison.OrdinalIgnoreCase))
        {
            coding = ContentCoding.Gzip;
            return true;
        }

        if (value.Equals("deflate", StringComparison.OrdinalIgnoreCase))
        {
            coding = ContentCoding.Deflate;
            return true;
        }

        problem = $"Content-Encoding '{value}' is not supported: send gzip, deflate or an uncompressed body";
        return false;
    }

    /// <summary>
    /// Writes the 401/403 the authentication layer decides, as an OTLP error in the request's encoding
    /// (and as a gRPC status on the gRPC route), so exporters can read why.
    /// </summary>
    public static Task WriteAuthenticationErrorAsync(HttpContext context, int statusCode, string message)
    {
        if (OtlpGrpcApi.IsGrpcRequest(context.Request))
        {
            return GrpcResult.Error(Otlp.OtlpError.CodeFor(statusCode), message).ExecuteAsync(context);
        }

        var encoding = TryParseMediaType(context.Request.ContentType, out var parsed, out _) ? parsed : OtlpEncoding.Json;
        return OtlpHttpResult.Error(statusCode, message, encoding).ExecuteAsync(context);
    }
}
