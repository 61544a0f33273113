using System.Diagnostics;

namespace Trulayer.Workload.Load;

/// <summary>
/// Spaces requests evenly to offer a target rate: the n-th request may start at start + n × interval,
/// whichever sender takes it. A sender that was held up (retrying, or the server was slow) does not make
/// up for lost time in a burst: slots more than a second in the past are skipped, so the offered rate
/// never exceeds the target.
/// </summary>
public sealed class RatePacer
{
    private static readonly long CatchUpLimit = Stopwatch.Frequency;
    private readonly long _intervalTicks;
    private readonly object _lock = new();
    private long _next;

    /// <param name="requestsPerSecond">The target rate; zero or less means no pacing.</param>
    public RatePacer(double requestsPerSecond)
    {
        _intervalTicks = requestsPerSecond > 0 ? Math.Max(1, (long)(Stopwatch.Frequency / requestsPerSecond)) : 0;
        _next = Stopwatch.GetTimestamp();
    }

    /// <summary>Waits for the next free slot.</summary>
    public async ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        if (_intervalTicks == 0)
        {
            return;
        }

        long slot;
        lock (_lock)
        {
            var now = Stopwatch.GetTimestamp();
            if (_next < now - CatchUpLimit)
            {
                _next = now;
            }

            slot = _next;
            _next += _intervalTicks;
        }

        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), slot);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken);
        }
    }
}
