using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;

namespace Trulayer.Workload.Load;

/// <summary>What one attempt at an export came to.</summary>
public enum AttemptOutcome
{
    /// <summary>200 / gRPC OK: ingest acknowledged the request (some spans may be rejected in partial_success).</summary>
    Accepted,

    /// <summary>An answer the OTLP specification says to retry (429, 502, 503, 504; gRPC UNAVAILABLE, ...).</summary>
    Retryable,

    /// <summary>An answer never to retry (400, 401, 413, ...).</summary>
    Refused,

    /// <summary>No answer: the connection failed or the attempt timed out. Retried, like an exporter does.</summary>
    Unreachable,
}

/// <summary>One attempt: its outcome, the status ("200", "503", "grpc 14", "timeout", ...), and what the server said.</summary>
public readonly record struct ExportAttempt(
    AttemptOutcome Outcome,
    string Status,
    long RejectedSpans,
    TimeSpan? ServerDelay,
    string? Message,
    TimeSpan Latency);

/// <summary>
/// Sends encoded export requests to the gateway as an OTLP exporter does: OTLP/HTTP (protobuf or JSON) to
/// <c>/v1/otlp/traces</c>, or OTLP/gRPC <c>TraceService/Export</c> over h2c (HTTP/2 with prior knowledge,
/// framed by hand), with the API key as a bearer token, and reads the answer into an <see cref="ExportAttempt"/>.
/// </summary>
public sealed class OtlpExportClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly LoadTarget _target;
    private readonly LoadTransport _transport;
    private readonly Uri _uri;
    private readonly TimeSpan _timeout;

    public OtlpExportClient(LoadTarget target, LoadTransport transport, int connections, TimeSpan timeout, bool logs = false)
    {
        _target = target;
        _transport = transport;
        _timeout = timeout;
        _uri = transport == LoadTransport.Grpc
            ? new Uri(target.OtlpGrpc, logs ? LoadTarget.GrpcLogsExportPath : LoadTarget.GrpcExportPath)
            : new Uri(target.Gateway, logs ? LoadTarget.LogsPath : LoadTarget.TracesPath);
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = Math.Max(1, connections),
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>Sends <paramref name="length"/> bytes of <paramref name="payload"/> once.</summary>
    public async Task<ExportAttempt> ExportAsync(byte[] payload, int length, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var request = CreateRequest(payload, length);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token);
            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            var latency = Stopwatch.GetElapsedTime(started);
            return _transport == LoadTransport.Grpc ? ReadGrpc(response, body, latency) : ReadHttp(response, body, latency);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ExportAttempt(AttemptOutcome.Unreachable, "timeout", 0, null, $"no answer within {_timeout.TotalSeconds:0.#} s", Stopwatch.GetElapsedTime(started));
        }
        catch (HttpRequestException ex)
        {
            return new ExportAttempt(AttemptOutcome.Unreachable, "connection", 0, null, ex.Message, Stopwatch.GetElapsedTime(started));
        }
        catch (IOException ex)
        {
            return new ExportAttempt(AttemptOutcome.Unreachable, "connection", 0, null, ex.Message, Stopwatch.GetElapsedTime(started));
        }
    }

    private HttpRequestMessage CreateRequest(byte[] payload, int length)
    {
        var content = new ByteArrayContent(payload, 0, length);
        var request = new HttpRequestMessage(HttpMethod.Post, _uri) { Content = content };
        switch (_transport)
        {
            case LoadTransport.Grpc:
                content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
                request.Version = HttpVersion.Version20;
                request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
                request.Headers.TryAddWithoutValidation("te", "trailers");
                request.Headers.TryAddWithoutValidation("authorization", "Bearer " + _target.ApiKey);
                break;
            case LoadTransport.HttpJson:
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _target.ApiKey);
                break;
            default:
                content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _target.ApiKey);
                break;
        }

        return request;
    }

    private static ExportAttempt ReadHttp(HttpResponseMessage response, byte[] body, TimeSpan latency)
    {
        var status = (int)response.StatusCode;
        var json = response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true;
        var statusText = status.ToString(CultureInfo.InvariantCulture);
        if (status == 200)
        {
            var (rejected, message) = json ? ReadJsonPartialSuccess(body) : ReadProtobufPartialSuccess(body);
            return new ExportAttempt(AttemptOutcome.Accepted, statusText, rejected, null, message, latency);
        }

        var outcome = RetryPolicy.IsRetryableHttpStatus(status) ? AttemptOutcome.Retryable : AttemptOutcome.Refused;
        return new ExportAttempt(outcome, statusText, 0, RetryAfter(response), ErrorMessage(body, json), latency);
    }

    private static ExportAttempt ReadGrpc(HttpResponseMessage response, byte[] body, TimeSpan latency)
    {
        var httpStatus = (int)response.StatusCode;
        if (httpStatus != 200)
        {
            // The gRPC specification's mapping of HTTP statuses a proxy may answer: 429, 502, 503, 504 are UNAVAILABLE.
            var retryable = RetryPolicy.IsRetryableHttpStatus(httpStatus);
            return new ExportAttempt(retryable ? AttemptOutcome.Retryable : AttemptOutcome.Refused, "http " + httpStatus.ToString(CultureInfo.InvariantCulture),
                0, RetryAfter(response), Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 500))), latency);
        }

        var code = Header(response, "grpc-status") is { } text && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : 2;
        var message = Header(response, "grpc-message") is { } encoded ? Uri.UnescapeDataString(encoded) : null;
        TimeSpan? pushback = Header(response, "grpc-retry-pushback-ms") is { } ms && long.TryParse(ms, NumberStyles.None, CultureInfo.InvariantCulture, out var milliseconds)
            ? TimeSpan.FromMilliseconds(milliseconds)
            : null;
        var statusText = "grpc " + code.ToString(CultureInfo.InvariantCulture);
        if (code == 0)
        {
            var (rejected, partial) = body.Length >= 5 ? ReadProtobufPartialSuccess(body.AsSpan(5).ToArray()) : (0, null);
            return new ExportAttempt(AttemptOutcome.Accepted, statusText, rejected, null, partial, latency);
        }

        var outcome = RetryPolicy.IsRetryableGrpcStatus(code, pushback is not null) ? AttemptOutcome.Retryable : AttemptOutcome.Refused;
        return new ExportAttempt(outcome, statusText, 0, pushback, message, latency);
    }

    private static string? Header(HttpResponseMessage response, string name)
        => response.Headers.TryGetValues(name, out var values) || response.TrailingHeaders.TryGetValues(name, out values) ? values.FirstOrDefault() : null;

    private static TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow,
        _ => null,
    };

    private static (long Rejected, string? Message) ReadProtobufPartialSuccess(byte[] body)
    {
        try
        {
            // ExportLogsServiceResponse has the same encoding: rejected_log_records reads as rejected_spans.
            var response = ExportTraceServiceResponse.Parser.ParseFrom(body);
            return response.PartialSuccess is { } partial ? (partial.RejectedSpans, partial.ErrorMessage) : (0, null);
        }
        catch (InvalidProtocolBufferException)
        {
            return (0, "the 200 answer is not an ExportTraceServiceResponse");
        }
    }

    private static (long Rejected, string? Message) ReadJsonPartialSuccess(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (!document.RootElement.TryGetProperty("partialSuccess", out var partial))
            {
                return (0, null);
            }

            long rejected = 0;
            if (partial.TryGetProperty("rejectedSpans", out var value) || partial.TryGetProperty("rejectedLogRecords", out value))
            {
                rejected = value.ValueKind == JsonValueKind.String ? long.Parse(value.GetString()!, CultureInfo.InvariantCulture) : value.GetInt64();
            }

            return (rejected, partial.TryGetProperty("errorMessage", out var message) ? message.GetString() : null);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            return (0, "the 200 answer is not an OTLP/JSON ExportTraceServiceResponse");
        }
    }

    private static string ErrorMessage(byte[] body, bool json)
    {
        try
        {
            if (json)
            {
                using var document = JsonDocument.Parse(body);
                var root = document.RootElement;
                if (root.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String)
                {
                    return message.GetString()!;
                }

                if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String)
                {
                    return error.GetString()!;
                }
            }
            else if (body.Length > 0)
            {
                return Google.Rpc.Status.Parser.ParseFrom(body).Message;
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidProtocolBufferException)
        {
        }

        return Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 500)));
    }

    public void Dispose() => _http.Dispose();
}
