using Perfolizer.Horology;

namespace Trulayer.Benchmarks;

/// <summary>
/// Measures the CPU time the benchmark process spends (user and system, every thread) instead of the time
/// on the wall: on a machine shared with other work, wall time mostly measures who else is running, while
/// the CPU a span costs stays put. For single-threaded work on an idle machine the two agree.
/// </summary>
public sealed class ProcessCpuClock : IClock
{
    public string Title => "Process CPU time";

    public bool IsAvailable => true;

    public Frequency Frequency { get; } = new(TimeSpan.TicksPerSecond);

    public long GetTimestamp() => Environment.CpuUsage.TotalTime.Ticks;
}
