using System.Diagnostics.Metrics;

namespace Trulayer.Ingest;

/// <summary>Ingest's self-telemetry, on the "Trulayer.Ingest" meter.</summary>
public sealed class IngestMetrics
{
    public const string MeterName = "Trulayer.Ingest";

    private readonly Counter<long> _accepted;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _truncated;
    private readonly Counter<long> _requestBytes;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _produceDuration;

    public IngestMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _accepted = meter.CreateCounter<long>("trulayer.ingest.spans.accepted", "{span}", "Spans Kafka acknowledged");
        _rejected = meter.CreateCounter<long>("trulayer.ingest.spans.rejected", "{span}", "Spans refused in partial_success");
        _truncated = meter.CreateCounter<long>("trulayer.ingest.spans.truncated", "{span}", "Spans accepted with data cut to the limits");
        _requestBytes = meter.CreateCounter<long>("trulayer.ingest.request.size", "By", "Request payload bytes after decompression");
        _requests = meter.CreateCounter<long>("trulayer.ingest.requests", "{request}", "Export requests by outcome");
        _produceDuration = meter.CreateHistogram<double>("trulayer.ingest.produce.duration", "s", "Time until Kafka acknowledged every record of a request");
    }

    public void RequestReceived(string transport, string encoding, int bytes)
        => _requestBytes.Add(bytes, new("transport", transport), new("encoding", encoding));

    public void RequestCompleted(string transport, string outcome)
        => _requests.Add(1, new("transport", transport), new("outcome", outcome));

    public void SpansAccepted(int spans, int rejected, int truncated)
    {
        _accepted.Add(spans);
        if (rejected > 0)
        {
            _rejected.Add(rejected);
        }

        if (truncated > 0)
        {
            _truncated.Add(truncated);
        }
    }

    public void Produced(TimeSpan duration, bool delivered)
        => _produceDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("delivered", delivered));
}
