using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Trulayer.Processor;

/// <summary>
/// Whether the consume loop and its writer are moving. The loop beats on every turn; the writer marks
/// each attempt, so a write stuck inside one call (not a retried outage) shows as stale too.
/// </summary>
internal sealed class WorkerHeartbeat(TimeProvider time)
{
    private readonly Dictionary<int, long> _writes = [];
    private long _loopBeat = time.GetTimestamp();
    private string? _stopped;

    public void Beat() => Interlocked.Exchange(ref _loopBeat, time.GetTimestamp());

    /// <summary>A write attempt begins on the calling thread; <see cref="WriteEnded"/> ends it.</summary>
    public void WriteStarted()
    {
        lock (_writes)
        {
            _writes[Environment.CurrentManagedThreadId] = time.GetTimestamp();
        }
    }

    public void WriteEnded()
    {
        lock (_writes)
        {
            _writes.Remove(Environment.CurrentManagedThreadId);
        }
    }

    /// <summary>The loop has ended (shut down or failed); the reason is reported until the process exits.</summary>
    public void Stopped(string reason) => _stopped = reason;

    public (bool Alive, string Description) Check(TimeSpan timeout)
    {
        if (_stopped is { } reason)
        {
            return (false, "the worker loop has stopped: " + reason);
        }

        var sinceBeat = time.GetElapsedTime(Interlocked.Read(ref _loopBeat));
        if (sinceBeat > timeout)
        {
            return (false, $"the worker loop has not turned for {sinceBeat.TotalSeconds:0} s");
        }

        long oldestWrite;
        lock (_writes)
        {
            oldestWrite = _writes.Count == 0 ? 0 : _writes.Values.Min();
        }

        if (oldestWrite != 0 && time.GetElapsedTime(oldestWrite) is var writing && writing > timeout)
        {
            return (false, $"a database write has been running for {writing.TotalSeconds:0} s");
        }

        return (true, $"the worker loop turned {sinceBeat.TotalMilliseconds:0} ms ago");
    }
}

/// <summary>/health's "worker" entry: unhealthy when the consume loop or its writer is stale or stopped.</summary>
internal sealed class WorkerHealthCheck(WorkerHeartbeat heartbeat, IOptions<ProcessorOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (alive, description) = heartbeat.Check(options.Value.LivenessTimeout);
        return Task.FromResult(alive ? HealthCheckResult.Healthy(description) : HealthCheckResult.Unhealthy(description));
    }
}
