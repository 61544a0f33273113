using Confluent.Kafka;
using Trulayer.Processor.Storage;

namespace Trulayer.Processor.Pipeline;

/// <summary>A Kafka record of otlp.spans.v1 mapped to rows.</summary>
internal sealed record DecodedRecord(
    ConsumeResult<byte[]?, byte[]?> Source,
    IReadOnlyList<SpanRow> Spans,
    IReadOnlyList<ResourceRow> Resources,
    IReadOnlyList<ScopeRow> Scopes) : IDecodedRecord
{
    public int RowCount => Spans.Count;
}

/// <summary>A Kafka record of otlp.logs.v1 mapped to rows.</summary>
internal sealed record DecodedLogRecord(
    ConsumeResult<byte[]?, byte[]?> Source,
    IReadOnlyList<LogRow> Logs,
    IReadOnlyList<ResourceRow> Resources,
    IReadOnlyList<ScopeRow> Scopes) : IDecodedRecord
{
    public int RowCount => Logs.Count;
}

/// <summary>Where a record went wrong: decoding it, or storing it.</summary>
internal enum DeadLetterStage
{
    Decode,
    Database,
}

/// <summary>A record the processor cannot store, on its way to the dead-letter topic.</summary>
internal sealed record DeadLetter(ConsumeResult<byte[]?, byte[]?> Source, DeadLetterStage Stage, string Reason);
