using System.Diagnostics.Metrics;

namespace Trulayer.Ingest.Admission;

/// <summary>
/// The backlog and the admission state, on ingest's "Trulayer.Ingest" meter: one series per topic (the
/// spans topic and the logs topic each have a backlog and a bound of their own), tagged
/// <c>messaging.destination.name</c>.
/// </summary>
public sealed class AdmissionMetrics
{
    public const string TopicTag = "messaging.destination.name";

    private readonly Counter<long> _refused;

    public AdmissionMetrics(IMeterFactory meterFactory, BacklogMonitor spansMonitor, [FromKeyedServices(BacklogMonitor.LogsKey)] BacklogMonitor logsMonitor)
    {
        BacklogMonitor[] monitors = [spansMonitor, logsMonitor];
        var meter = meterFactory.Create(IngestMetrics.MeterName);
        _refused = meter.CreateCounter<long>("trulayer.ingest.admission.refused", "{request}", "Requests refused (503) because their topic's backlog was over its bound");
        meter.CreateObservableGauge("trulayer.ingest.admission.admitting", () => monitors.Select(m => Tagged(m, m.Current.Refusing ? 0 : 1)), "{state}",
            "1 while ingest admits requests for the topic, 0 while it refuses them because the topic's backlog is over its bound");
        meter.CreateObservableGauge("trulayer.ingest.backlog.records", () => Observe(monitors, r => r.TotalRecords), "{record}",
            "Records on the topic the processor has not yet stored and committed, over all partitions");
        meter.CreateObservableGauge("trulayer.ingest.backlog.partition.records", () => Observe(monitors, r => r.FullestPartitionRecords), "{record}",
            "Records not yet stored in the topic's fullest partition");
        meter.CreateObservableGauge("trulayer.ingest.backlog.partition.size", () => Observe(monitors, r => r.FullestPartitionBytes), "By",
            "Estimated bytes not yet stored in the topic's fullest partition");
        meter.CreateObservableGauge("trulayer.ingest.backlog.fill", () => Observe(monitors, r => r.Fill), "1",
            "The topic's fullest partition's backlog as a share of the bound (1: at the bound)");
    }

    public void Refused(BacklogMonitor monitor) => _refused.Add(1, new KeyValuePair<string, object?>(TopicTag, monitor.Topic));

    private static Measurement<T> Tagged<T>(BacklogMonitor monitor, T value) where T : struct
        => new(value, new KeyValuePair<string, object?>(TopicTag, monitor.Topic));

    /// <summary>No measurement for a topic whose lag is unknown: a gauge of 0 would say its backlog is empty.</summary>
    private static IEnumerable<Measurement<T>> Observe<T>(BacklogMonitor[] monitors, Func<BacklogReading, T> value) where T : struct
    {
        foreach (var monitor in monitors)
        {
            if (monitor.Current.Reading is { } reading)
            {
                yield return Tagged(monitor, value(reading));
            }
        }
    }
}
