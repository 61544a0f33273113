using System.Diagnostics.Metrics;

namespace Trulayer.Processor;

/// <summary>The processor's own metrics, on the "Trulayer.Processor" meter.</summary>
internal sealed class ProcessorMetrics : IDisposable
{
    public const string MeterName = "Trulayer.Processor";

    private readonly Meter _meter;
    private readonly Counter<long> _spansWritten;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _deadLetters;
    private readonly Histogram<double> _batchDuration;
    private long _lag;

    public ProcessorMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _spansWritten = _meter.CreateCounter<long>("trulayer.processor.spans.written", "{span}", "Span rows inserted into telemetry.spans.");
        _duplicates = _meter.CreateCounter<long>("trulayer.processor.spans.duplicates", "{span}", "Re-delivered spans found already stored and skipped.");
        _deadLetters = _meter.CreateCounter<long>("trulayer.processor.dlq.records", "{record}", "Records sent to the dead-letter topic, by stage.");
        _batchDuration = _meter.CreateHistogram<double>("trulayer.processor.batch.duration", "s", "Time from handing a batch to the writer until it is stored.");
        _meter.CreateObservableGauge("trulayer.processor.consumer.lag", () => Interlocked.Read(ref _lag), "{record}",
            "Records on the assigned partitions of the spans topic not yet stored and committed.");
    }

    public void SetConsumerLag(long records) => Interlocked.Exchange(ref _lag, records);

    public void BatchStored(int spans, int duplicates, TimeSpan duration)
    {
        _spansWritten.Add(spans);
        if (duplicates > 0)
        {
            _duplicates.Add(duplicates);
        }

        _batchDuration.Record(duration.TotalSeconds);
    }

    public void DeadLettered(string stage) => _deadLetters.Add(1, new KeyValuePair<string, object?>("stage", stage));

    public void Dispose() => _meter.Dispose();
}
