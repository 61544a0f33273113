using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.Processor.Pipeline;

/// <summary>The consume loop of spans: otlp.spans.v1 into telemetry.spans.</summary>
internal sealed class SpanPipeline(
    KafkaClientFactory kafka,
    SpanSignal signal,
    RecordBatchHandler<DecodedRecord> handler,
    ProcessorMetrics metrics,
    WorkerHeartbeat heartbeat,
    IOptions<ProcessorOptions> options,
    TimeProvider time,
    ILogger<SpanPipeline> logger)
    : RecordPipeline<DecodedRecord>(kafka, signal, handler, metrics, heartbeat, options, time, logger);

/// <summary>The consume loop of log records: otlp.logs.v1 into telemetry.logs.</summary>
internal sealed class LogPipeline(
    KafkaClientFactory kafka,
    LogSignal signal,
    RecordBatchHandler<DecodedLogRecord> handler,
    ProcessorMetrics metrics,
    WorkerHeartbeat heartbeat,
    IOptions<ProcessorOptions> options,
    TimeProvider time,
    ILogger<LogPipeline> logger)
    : RecordPipeline<DecodedLogRecord>(kafka, signal, handler, metrics, heartbeat, options, time, logger);
