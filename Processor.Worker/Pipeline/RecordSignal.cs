using Confluent.Kafka;
using Microsoft.Extensions.Options;
using Trulayer.Processor.Pricing;
using Trulayer.Processor.Storage;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.Processor.Pipeline;

/// <summary>A Kafka record decoded into the rows of one signal.</summary>
internal interface IDecodedRecord
{
    ConsumeResult<byte[]?, byte[]?> Source { get; }

    /// <summary>The rows the record holds (spans, log records): what fills a batch.</summary>
    int RowCount { get; }
}

/// <summary>
/// One kind of telemetry the processor consumes: its topics, how a record is decoded, how a batch of
/// them is stored. <see cref="RecordPipeline{TRecord}"/> and <see cref="RecordBatchHandler{TRecord}"/> do
/// the rest (batching, offsets after storage, retries, dead letters) the same way for every signal.
/// </summary>
internal interface IRecordSignal<TRecord>
    where TRecord : IDecodedRecord
{
    /// <summary>The signal's name in logs and metrics: <c>spans</c>, <c>logs</c>.</summary>
    string Name { get; }

    string Topic { get; }

    string DeadLetterTopic { get; }

    /// <summary>A decoder for one consume loop (decoders keep scratch state: one per thread).</summary>
    Func<ConsumeResult<byte[]?, byte[]?>, (TRecord? Record, DeadLetter? DeadLetter)> CreateDecoder();

    /// <summary>Stores the records in one transaction; throws what PostgreSQL throws, having written nothing.</summary>
    WriteResult Write(IReadOnlyList<TRecord> records);
}

/// <summary>Spans: otlp.spans.v1 (SpanBatch records) into telemetry.spans and telemetry.traces.</summary>
internal sealed class SpanSignal(KafkaClientFactory kafka, SpanBatchWriter writer, DimensionCache cache, PriceOverrides overrides, IOptions<ProcessorOptions> options) : IRecordSignal<DecodedRecord>
{
    public string Name => "spans";

    public string Topic => kafka.Options.SpansTopic;

    public string DeadLetterTopic => kafka.Options.DeadLetterTopic;

    public Func<ConsumeResult<byte[]?, byte[]?>, (DecodedRecord? Record, DeadLetter? DeadLetter)> CreateDecoder()
        => new SpanRecordDecoder(cache, options.Value.MaxTextBytes, overrides: overrides).Decode;

    public WriteResult Write(IReadOnlyList<DecodedRecord> records) => writer.Write(records);
}

/// <summary>Logs: otlp.logs.v1 (LogBatch records) into telemetry.logs.</summary>
internal sealed class LogSignal(KafkaClientFactory kafka, LogBatchWriter writer, DimensionCache cache) : IRecordSignal<DecodedLogRecord>
{
    public const string SignalName = "logs";

    public string Name => SignalName;

    public string Topic => kafka.Options.LogsTopic;

    public string DeadLetterTopic => kafka.Options.LogsDeadLetterTopic;

    public Func<ConsumeResult<byte[]?, byte[]?>, (DecodedLogRecord? Record, DeadLetter? DeadLetter)> CreateDecoder() => new LogRecordDecoder(cache).Decode;

    public WriteResult Write(IReadOnlyList<DecodedLogRecord> records) => writer.Write(records);
}
