using System.Diagnostics.Metrics;

namespace Trulayer.Ingest.Admission;

/// <summary>The backlog and the admission state, on ingest's "Trulayer.Ingest" meter.</summary>
public sealed class AdmissionMetrics
{
    private readonly Counter<long> _refused;

    public AdmissionMetrics(IMeterFactory meterFactory, BacklogMonitor monitor)
    {
        var meter = meterFactory.Create(IngestMetrics.MeterName);
        _refused = meter.CreateCounter<long>("trulayer.ingest.admission.refused", "{request}", "Requests refused (503) because the backlog was over its bound");
        meter.CreateObservableGauge("trulayer.ingest.admission.admitting", () => monitor.Current.Refusing ? 0 : 1, "{state}",
            "1 while ingest admits spans, 0 while it refuses them because the backlog is over its bound");
        meter.CreateObservableGauge("trulayer.ingest.backlog.records", () => Observe(monitor, r => r.TotalRecords), "{record}",
            "Records on the spans topic the processor has not yet stored and committed, over all partitions");
        meter.CreateObservableGauge("trulayer.ingest.backlog.partition.records", () => Observe(monitor, r => r.FullestPartitionRecords), "{record}",
            "Records not yet stored in the fullest partition");
        meter.CreateObservableGauge("trulayer.ingest.backlog.partition.size", () => Observe(monitor, r => r.FullestPartitionBytes), "By",
            "Estimated bytes not yet stored in the fullest partition");
        meter.CreateObservableGauge("trulayer.ingest.backlog.fill", () => monitor.Current.Reading is { } r ? [new Measurement<double>(r.Fill)] : Array.Empty<Measurement<double>>(), "1",
            "The fullest partition's backlog as a share of the bound (1: at the bound)");
    }

    public void Refused() => _refused.Add(1);

    /// <summary>No measurement while the lag is unknown: a gauge of 0 would say the backlog is empty.</summary>
    private static IEnumerable<Measurement<long>> Observe(BacklogMonitor monitor, Func<BacklogReading, long> value)
        => monitor.Current.Reading is { } reading ? [new Measurement<long>(value(reading))] : [];
}
