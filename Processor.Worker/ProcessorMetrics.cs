using System.Diagnostics.Metrics;

using Trulayer.Processor.Pipeline;

namespace Trulayer.Processor;

/// <summary>The processor's own metrics, on the "Trulayer.Processor" meter.</summary>
internal sealed class ProcessorMetrics : IDisposable
{
    public const string MeterName = "Trulayer.Processor";

    private readonly Meter _meter;
    private readonly Counter<long> _spansWritten;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _logsWritten;
    private readonly Counter<long> _logDuplicates;
    private readonly Counter<long> _deadLetters;
    private readonly Histogram<double> _batchDuration;
    private long _lag;
    private long _logsLag;

    public ProcessorMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _spansWritten = _meter.CreateCounter<long>("trulayer.processor.spans.written", "{span}", "Span rows inserted into telemetry.spans.");
        _duplicates = _meter.CreateCounter<long>("trulayer.processor.spans.duplicates", "{span}", "Re-delivered spans found already stored and skipped.");
        _logsWritten = _meter.CreateCounter<long>("trulayer.processor.logs.written", "{record}", "Log rows inserted into telemetry.logs.");
        _logDuplicates = _meter.CreateCounter<long>("trulayer.processor.logs.duplicates", "{record}", "Re-delivered or re-sent log records found already stored and skipped.");
        _deadLetters = _meter.CreateCounter<long>("trulayer.processor.dlq.records", "{record}", "Records sent to a dead-letter topic, by signal and stage.");
        _batchDuration = _meter.CreateHistogram<double>("trulayer.processor.batch.duration", "s", "Time from handing a batch to the writer until it is stored.");
        _meter.CreateObservableGauge("trulayer.processor.consumer.lag", () => Interlocked.Read(ref _lag), "{record}",
            "Records on the assigned partitions of the spans topic not yet stored and committed.");
        _meter.CreateObservableGauge("trulayer.processor.logs.consumer.lag", () => Interlocked.Read(ref _logsLag), "{record}",
            "Records on the assigned partitions of the logs topic not yet stored and committed.");
    }

    /// <summary>The lag of a signal's consumer (<c>spans</c> or <c>logs</c>).</summary>
    public void SetConsumerLag(string signal, long records) => Interlocked.Exchange(ref signal == LogSignal.SignalName ? ref _logsLag : ref _lag, records);

    public void BatchStored(string signal, int rows, int duplicates, TimeSpan duration)
    {
        var isLogs = signal == LogSignal.SignalName;
        (isLogs ? _logsWritten : _spansWritten).Add(rows);
        if (duplicates > 0)
        {
            (isLogs ? _logDuplicates : _duplicates).Add(duplicates);
        }

        _batchDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("signal", signal));
    }

    public void DeadLettered(string signal, string stage)
        => _deadLetters.Add(1, new KeyValuePair<string, object?>("signal", signal), new KeyValuePair<string, object?>("stage", stage));

    public void Dispose() => _meter.Dispose();
}
