using Npgsql;
using Trulayer.Processor.Pipeline;
using Trulayer.Processor.Storage;

namespace Trulayer.Processor;

/// <summary>The span consumer: <see cref="SpanPipeline"/> hosted.</summary>
internal sealed class SpanConsumerWorker(SpanPipeline pipeline, SpanStorage storage, WorkerHeartbeat heartbeat, ILogger<SpanConsumerWorker> logger)
    : RecordConsumerWorker<DecodedRecord>(pipeline, storage, heartbeat, logger);

/// <summary>The log consumer: <see cref="LogPipeline"/> hosted, beside the span one, in the same consumer group.</summary>
internal sealed class LogConsumerWorker(LogPipeline pipeline, SpanStorage storage, WorkerHeartbeat heartbeat, ILogger<LogConsumerWorker> logger)
    : RecordConsumerWorker<DecodedLogRecord>(pipeline, storage, heartbeat, logger);

/// <summary>
/// Hosts a consume loop: on a long-running thread of its own (Kafka's consumer blocks), once the
/// storage is known, until the host stops. A failure it cannot handle ends the process, to be restarted
/// with nothing committed past what is stored.
/// </summary>
internal abstract class RecordConsumerWorker<TRecord>(
    RecordPipeline<TRecord> pipeline,
    SpanStorage storage,
    WorkerHeartbeat heartbeat,
    ILogger logger) : BackgroundService
    where TRecord : IDecodedRecord
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
        => Task.Factory.StartNew(() => Run(stoppingToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stop)
    {
        try
        {
            InitializeStorage(stop);
            using (pipeline)
            {
                pipeline.Start();
                pipeline.Run(stop);
            }

            heartbeat.Stopped("the service is stopping");
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            heartbeat.Stopped("the service is stopping");
        }
        catch (Exception ex)
        {
            heartbeat.Stopped(ex.Message);
            ConsumerLog.Failed(logger, ex);
            throw;
        }
    }

    /// <summary>Reads the storage layout, waiting for PostgreSQL if it is not reachable yet.</summary>
    private void InitializeStorage(CancellationToken stop)
    {
        var delay = TimeSpan.FromMilliseconds(500);
        while (true)
        {
            heartbeat.Beat();
            try
            {
                storage.Initialize();
                return;
            }
            catch (NpgsqlException ex) when (ex is not PostgresException || ex.IsTransient)
            {
                ConsumerLog.StorageUnavailable(logger, ex.Message, delay);
            }

            if (stop.WaitHandle.WaitOne(delay))
            {
                stop.ThrowIfCancellationRequested();
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
        }
    }
}

internal static partial class ConsumerLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Critical, Message = "A consumer failed; the process stops so it can be restarted")]
    public static partial void Failed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "PostgreSQL is not reachable ({Error}); retrying in {Delay}")]
    public static partial void StorageUnavailable(ILogger logger, string error, TimeSpan delay);
}
