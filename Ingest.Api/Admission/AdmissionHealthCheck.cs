using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Trulayer.Ingest.Admission;

/// <summary>
/// "admission" (the spans topic) and "admission.logs" (the logs topic) in /health: Degraded (still 200)
/// while ingest refuses that signal because its topic's backlog is over its bound, Healthy otherwise.
/// Never Unhealthy: shedding load is ingest working as designed, and an unreadable lag is Kafka's health
/// check's business.
/// </summary>
internal sealed class AdmissionHealthCheck(BacklogMonitor monitor, string records) : IHealthCheck
{
    public const string SpansName = "admission";
    public const string LogsName = "admission.logs";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var state = monitor.Current;
        var options = monitor.Options;
        if (state.Reading is not { } reading)
        {
            return Task.FromResult(HealthCheckResult.Healthy($"admitting; {state.Problem}"));
        }

        var data = new Dictionary<string, object>
        {
            ["topic"] = monitor.Topic,
            ["backlogRecords"] = reading.TotalRecords,
            ["fullestPartition"] = reading.FullestPartition,
            ["fullestPartitionRecords"] = reading.FullestPartitionRecords,
            ["fullestPartitionBytes"] = reading.FullestPartitionBytes,
            ["bytesPerRecord"] = Math.Round(reading.BytesPerRecord),
            ["maxPartitionRecords"] = options.EffectiveMaxPartitionRecords,
            ["maxPartitionBytes"] = options.EffectiveMaxPartitionBytes,
            ["fill"] = Math.Round(reading.Fill, 3),
        };
        var description = string.Create(CultureInfo.InvariantCulture,
            $"{monitor.Topic}: backlog {reading.TotalRecords:N0} records; fullest partition {reading.FullestPartition}: {reading.FullestPartitionRecords:N0} records, " +
            $"about {reading.FullestPartitionBytes / 1048576.0:0.0} MiB ({reading.Fill:P0} of the bound)");
        return Task.FromResult(reading.Refusing
            ? HealthCheckResult.Degraded($"refusing new {records} (503) until the backlog shrinks: {description}", data: data)
            : HealthCheckResult.Healthy($"admitting; {description}", data));
    }
}
