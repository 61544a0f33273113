using System.Diagnostics;
using Microsoft.Extensions.Options;
using Trulayer.Ingest.Kafka;
using Trulayer.Ingest.Pipeline;
using Trulayer.Otlp.Json;
using Trulayer.Otlp.Protobuf;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Ingest;

/// <summary>How an export request's payload is encoded.</summary>
public enum OtlpEncoding
{
    Protobuf,
    Json,
}

/// <summary>The OTLP signal an export carries.</summary>
public enum OtlpSignal
{
    Traces,
    Logs,
}

/// <summary>
/// One export request as the transports hand it over: the decompressed payload (owned by the caller,
/// unchanged until <see cref="IngestService.IngestAsync"/> completes), the project it writes to, the
/// organization that owns it (stamped into every record; Guid.Empty for none) and the project's content
/// policy (null: store content as sent).
/// </summary>
public readonly record struct IngestRequest(
    ReadOnlyMemory<byte> Payload,
    OtlpEncoding Encoding,
    Guid ProjectId,
    string Transport,
    OtlpSignal Signal = OtlpSignal.Traces,
    Guid OrganizationId = default,
    ContentPolicy? ContentPolicy = null);

public enum IngestStatus
{
    /// <summary>Every accepted span or log record is in Kafka (some may be rejected in partial_success).</summary>
    Accepted,

    /// <summary>The payload does not decode (400 / INVALID_ARGUMENT).</summary>
    Invalid,

    /// <summary>Too many spans or log records (413 / RESOURCE_EXHAUSTED).</summary>
    TooLarge,

    /// <summary>Kafka did not take the records, or admission refused them (503 / UNAVAILABLE); safe to retry.</summary>
    Unavailable,
}

/// <summary>
/// The outcome of an export: accepted with its partial success (<paramref name="Rejected"/> items and the
/// <paramref name="PartialMessage"/> naming reasons and warnings; empty when everything was taken whole),
/// or an error with the <paramref name="Message"/> that says what to change.
/// </summary>
public sealed record IngestResult(IngestStatus Status, string Message, long Rejected = 0, string PartialMessage = "", TimeSpan RetryAfter = default)
{
    public static readonly IngestResult AcceptedWhole = new(IngestStatus.Accepted, "");

    /// <summary>Whether the response carries a partial_success (some items rejected or cut).</summary>
    public bool IsPartial => Rejected > 0 || PartialMessage.Length > 0;

    public static IngestResult Error(IngestStatus status, string message, TimeSpan retryAfter = default)
        => new(status, message, RetryAfter: retryAfter);
}

/// <summary>
/// The OTLP trace and log receiver, independent of transport: decodes a request, validates, bounds and
/// groups its spans or log records, produces one record per trace to Kafka (spans to the spans topic, log
/// records to the logs topic) and reports partial success. The HTTP and gRPC
/// adapters translate requests into <see cref="IngestRequest"/> and results into their status codes.
/// </summary>
public sealed partial class IngestService(
    SpanRecordProducer producer,
    IIngestAdmission admission,
    IngestMetrics metrics,
    IOptions<IngestOptions> options,
    TimeProvider time,
    ILogger<IngestService> logger)
{
    private readonly IngestOptions _options = options.Value;
    private readonly ExportRequestScanner _scanner = new(options.Value);
    private readonly LogsRequestScanner _logsScanner = new(options.Value);
    private readonly ContentPolicyFilter _contentFilter = new();

    public IngestOptions Options => _options;

    public async Task<IngestResult> IngestAsync(IngestRequest request, CancellationToken cancellationToken)
    {
        metrics.RequestReceived(request.Transport, request.Encoding == OtlpEncoding.Json ? "json" : "protobuf", request.Payload.Length);

        if (request.Payload.IsEmpty)
        {
            // An empty body is an empty request in either encoding (a protobuf message with no fields).
            return IngestResult.AcceptedWhole;
        }

        var received = (ulong)time.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000UL;
        List<SpanRecord> records;
        SpanTally tally;
        try
        {
            (records, tally) = Decode(request, received);
        }
        catch (OtlpJsonException ex)
        {
            return IngestResult.Error(IngestStatus.Invalid, $"invalid OTLP/JSON at {ex.Path}: {ex.Problem}");
        }
        catch (ProtobufFormatException ex)
        {
            var message = request.Signal == OtlpSignal.Logs ? "ExportLogsServiceRequest" : "ExportTraceServiceRequest";
            return IngestResult.Error(IngestStatus.Invalid, $"invalid OTLP protobuf at {ex.Message}; send an encoded {message}");
        }
        catch (TooManySpansException ex)
        {
            return IngestResult.Error(IngestStatus.TooLarge, ex.Message);
        }

        if (records.Count > 0)
        {
            // Admission decides only about requests that would otherwise be accepted: a malformed or
            // oversized one is answered 400/413 even while load is shed, since a client never retries
            // those and must learn the truth at once.
            var admitted = await admission.AdmitAsync(request.ProjectId, request.Signal, cancellationToken);
            if (!admitted.Admitted)
            {
                return IngestResult.Error(IngestStatus.Unavailable, admitted.Reason ?? "ingest is not accepting telemetry right now; retry later", admitted.RetryAfter);
            }

            var started = Stopwatch.GetTimestamp();
            // Not cancelled with the request: once produced, the records go to Kafka whether or not
            // the client waits, and the wait is bounded by Kafka:ProduceTimeout.
            var topic = request.Signal == OtlpSignal.Logs ? producer.LogsTopic : producer.Topic;
            var outcome = await producer.ProduceAsync(topic, records, CancellationToken.None);
            metrics.Produced(Stopwatch.GetElapsedTime(started), outcome.Delivered);
            if (!outcome.Delivered)
            {
                return IngestResult.Error(
                    IngestStatus.Unavailable,
                    $"{outcome.Failure}; nothing of this request is acknowledged: retry it after {_options.RetryAfter.TotalSeconds:0} s",
                    _options.RetryAfter);
            }

            // Admission weighs each topic's backlog (the processor's lag on it) with what a record of that topic weighs.
            admission.Produced(request.Signal, records);
        }

        metrics.SpansAccepted(tally.Accepted, tally.Rejected, tally.Truncated);
        if (tally.Describe(_options) is { } partial)
        {
            Log.PartialSuccess(logger, request.ProjectId, request.Signal, tally.Rejected, tally.Truncated, partial);
            return new IngestResult(IngestStatus.Accepted, "", tally.Rejected, partial);
        }

        return IngestResult.AcceptedWhole;
    }

    /// <summary>The CPU part of an export: decode, validate, bound, group, compose the records.</summary>
    public (List<SpanRecord> Records, SpanTally Tally) Decode(IngestRequest request, ulong receivedUnixNano)
    {
        if (request.Encoding == OtlpEncoding.Json)
        {
            using var transcoded = request.Signal == OtlpSignal.Logs
                ? OtlpJson.TranscodeLogs(request.Payload.Span)
                : OtlpJson.TranscodeTraces(request.Payload.Span);
            return ScanAndCompose(transcoded.Bytes, request, receivedUnixNano);
        }

        return ScanAndCompose(request.Payload, request, receivedUnixNano);
    }

    private (List<SpanRecord>, SpanTally) ScanAndCompose(ReadOnlyMemory<byte> protobuf, in IngestRequest request, ulong receivedUnixNano)
    {
        OtlpRequestScanner scanner = request.Signal == OtlpSignal.Logs ? _logsScanner : _scanner;
        var scan = scanner.Scan(protobuf, receivedUnixNano);
        if (request.ContentPolicy is { Mode: not ContentMode.Store } policy)
        {
            // Before composing: content the project does not keep never reaches Kafka.
            _contentFilter.Apply(scan, policy, request.Signal);
        }

        var records = SpanBatchComposer.Compose(scan, request.ProjectId, receivedUnixNano, _options.MaxRecordBytes, request.OrganizationId);
        return (records, scan.Tally);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Project {ProjectId}: {Rejected} {Signal} items rejected, {Truncated} truncated: {Detail}")]
        public static partial void PartialSuccess(ILogger logger, Guid projectId, OtlpSignal signal, int rejected, int truncated, string detail);
    }
}
