using Microsoft.Extensions.Options;
using Npgsql;
using Trulayer.Processor.Storage;

namespace Trulayer.Processor;

/// <summary>
/// Applies Telemetry:RetentionDays once an hour (when set): drops day partitions and trace rows older
/// than the window. With TimescaleDB, its own retention policy drops the span chunks.
/// </summary>
internal sealed partial class RetentionWorker(
    SpanStorage storage,
    IOptions<TelemetryOptions> options,
    TimeProvider time,
    ILogger<RetentionWorker> logger) : BackgroundService
{
    private static readonly TimeSpan Every = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.RetentionDays is null)
        {
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5), time);
        var next = DateTimeOffset.MinValue;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (!storage.IsInitialized || time.GetUtcNow() < next)
            {
                continue;
            }

            try
            {
                await storage.ApplyRetentionAsync(time.GetUtcNow(), stoppingToken);
                next = time.GetUtcNow() + Every;
            }
            catch (NpgsqlException ex)
            {
                Log.Failed(logger, ex.Message);
                next = time.GetUtcNow() + TimeSpan.FromMinutes(1);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1400, Level = LogLevel.Warning, Message = "Retention could not run ({Error}); retrying in a minute")]
        public static partial void Failed(ILogger logger, string error);
    }
}
