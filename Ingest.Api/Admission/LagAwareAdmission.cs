using System.Globalization;
using Microsoft.Extensions.Options;
using Trulayer.Ingest.Pipeline;

namespace Trulayer.Ingest.Admission;

/// <summary>
/// Ingest's admission: refuses new spans or log records (503 + Retry-After, gRPC UNAVAILABLE with
/// pushback) while the processor's backlog on their topic is over its bound, before it can grow into what the broker drops. When the lag
/// cannot be read (Kafka down), it admits: the produce timeout answers 503 then anyway, and blocking on
/// an unknown would turn a lag-reader hiccup into an outage.
/// </summary>
public sealed class LagAwareAdmission(
    BacklogMonitor spansMonitor,
    [FromKeyedServices(BacklogMonitor.LogsKey)] BacklogMonitor logsMonitor,
    AdmissionMetrics metrics,
    IOptions<IngestOptions> ingestOptions) : IIngestAdmission
{
    private readonly TimeSpan _retryAfter = ingestOptions.Value.RetryAfter;

    public ValueTask<AdmissionDecision> AdmitAsync(Guid projectId, OtlpSignal signal, CancellationToken cancellationToken)
    {
        var monitor = Monitor(signal);
        if (monitor.Current is not { Reading: { Refusing: true } reading })
        {
            return ValueTask.FromResult(AdmissionDecision.Admit);
        }

        metrics.Refused(monitor);
        var options = monitor.Options;
        return ValueTask.FromResult(AdmissionDecision.Refuse(
            string.Create(CultureInfo.InvariantCulture,
                $"ingest is shedding load: the pipeline's backlog is over its bound (topic {monitor.Topic}, partition {reading.FullestPartition} holds {reading.FullestPartitionRecords:N0} records, " +
                $"about {reading.FullestPartitionBytes / 1048576.0:0.0} MiB, not yet stored; the bound is {options.EffectiveMaxPartitionRecords:N0} records or " +
                $"{options.EffectiveMaxPartitionBytes / 1048576.0:0.0} MiB per partition); nothing of this request is acknowledged: retry it after {_retryAfter.TotalSeconds:0} s"),
            _retryAfter));
    }

    public void Produced(OtlpSignal signal, IReadOnlyList<SpanRecord> records) => Monitor(signal).RecordsProduced(records);

    private BacklogMonitor Monitor(OtlpSignal signal) => signal == OtlpSignal.Logs ? logsMonitor : spansMonitor;
}
