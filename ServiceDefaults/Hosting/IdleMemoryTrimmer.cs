using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Trulayer.ServiceDefaults.Hosting;

/// <summary>
/// Gives memory back once a service has gone quiet after work. The server GC sizes its heaps to the load
/// and only shrinks them when it collects, which an idle service rarely does; librdkafka's freed buffers
/// stay in glibc's heaps. So when a service that has allocated at least <see cref="WorkBytes"/> since the
/// last trim then allocates less than <see cref="IdleBytes"/> in one <see cref="Interval"/>, this runs one
/// aggressive, compacting collection (which decommits what the heaps no longer use) and glibc's
/// <c>malloc_trim</c>, once; the next trim waits for the next burst of work. A service under load is never
/// paused by it. Off with <c>Memory:TrimWhenIdle=false</c>.
/// </summary>
internal sealed partial class IdleMemoryTrimmer(ILogger<IdleMemoryTrimmer> logger) : BackgroundService
{
    public const string EnabledKey = "Memory:TrimWhenIdle";

    internal static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    internal const long IdleBytes = 4L << 20;
    internal const long WorkBytes = 64L << 20;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        var lastTick = GC.GetTotalAllocatedBytes();
        var lastTrim = lastTick;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var now = GC.GetTotalAllocatedBytes();
            var idle = now - lastTick < IdleBytes;
            lastTick = now;
            if (!idle || now - lastTrim < WorkBytes)
            {
                continue;
            }

            var before = Environment.WorkingSet;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            TrimNativeHeap();
            lastTrim = lastTick = GC.GetTotalAllocatedBytes();
            Log.Trimmed(logger, before >> 20, Environment.WorkingSet >> 20);
        }
    }

    private static void TrimNativeHeap()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            _ = malloc_trim(0);
        }
        catch (EntryPointNotFoundException)
        {
            // Not glibc (musl has no malloc_trim): nothing to give back this way.
        }
        catch (DllNotFoundException)
        {
        }
    }

    [LibraryImport("libc")]
    private static partial int malloc_trim(nuint pad);

    private static partial class Log
    {
        [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Idle after work: memory trimmed, working set {BeforeMiB} MiB -> {AfterMiB} MiB")]
        public static partial void Trimmed(ILogger logger, long beforeMiB, long afterMiB);
    }
}
