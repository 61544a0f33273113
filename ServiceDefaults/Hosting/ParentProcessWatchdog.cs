using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Trulayer.ServiceDefaults.Hosting;

/// <summary>
/// Stops the service when the AppHost that started it is gone, so a killed AppHost never leaves services
/// behind. Active only when the AppHost passes its process id in <c>TRULAYER_PARENT_PID</c>.
/// </summary>
internal sealed partial class ParentProcessWatchdog(int parentPid, IHostApplicationLifetime lifetime, ILogger<ParentProcessWatchdog> logger)
    : BackgroundService
{
    public const string EnvironmentVariable = "TRULAYER_PARENT_PID";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            // On Linux a dead parent means we were re-parented: our parent id is no longer the AppHost's.
            if (Environment.ProcessId != parentPid && GetParentPid() != parentPid)
            {
                Log.ParentGone(logger, parentPid);
                lifetime.StopApplication();
                return;
            }
        }
    }

    private static int GetParentPid()
    {
        // /proc/self/stat: "pid (comm) state ppid ..."; comm may contain spaces, so parse after the last ')'.
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "The AppHost (pid {ParentPid}) is gone; stopping")]
        public static partial void ParentGone(ILogger logger, int parentPid);
    }
}
