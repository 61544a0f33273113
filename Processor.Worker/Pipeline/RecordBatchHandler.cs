using Confluent.Kafka;
using Microsoft.Extensions.Options;
using Npgsql;
using Trulayer.Processor.DeadLetters;
using Trulayer.Processor.Storage;

namespace Trulayer.Processor.Pipeline;

/// <summary>A batch ready to write: the decoded records, those to dead-letter, and the offsets it completes.</summary>
internal sealed record PreparedBatch<TRecord>(
    IReadOnlyList<TRecord> Records,
    IReadOnlyList<DeadLetter> DeadLetters,
    IReadOnlyList<TopicPartitionOffset> NextOffsets,
    int RowCount,
    int Generation);

/// <summary>
/// Stores one batch durably, or keeps trying: database and Kafka failures are retried with backoff
/// until they pass or the service stops, so nothing is lost and no offset moves past an unstored row.
/// A record PostgreSQL refuses for its content (a data error, not an outage) is isolated by splitting
/// the batch and sent to the dead-letter topic with the database's reason, so one bad record never
/// blocks its partition; it is kept in telemetry.dead_letters (where the API lists and replays it) and sent
/// to the signal's dead-letter topic, both before the batch's offsets can commit. Runs on the pipeline's writer thread.
/// </summary>
internal sealed class RecordBatchHandler<TRecord>(
    IRecordSignal<TRecord> signal,
    SpanStorage storage,
    DeadLetterPublisher deadLetters,
    DeadLetterStore deadLetterStore,
    ProcessorMetrics metrics,
    WorkerHeartbeat heartbeat,
    IOptions<ProcessorOptions> options,
    TimeProvider time,
    ILogger<RecordBatchHandler<TRecord>> logger)
    where TRecord : IDecodedRecord
{
    /// <summary>Returns once the batch is stored and its dead letters acknowledged; throws OperationCanceledException when stopped first.</summary>
    public void Handle(PreparedBatch<TRecord> batch, CancellationToken stop)
    {
        var started = time.GetTimestamp();
        var letters = new List<DeadLetter>(batch.DeadLetters);
        var result = WriteOrIsolate(batch.Records, letters, stop);
        if (letters.Count > 0)
        {
            Retry("keep dead letters", () => deadLetterStore.Record(signal.Name, letters), stop);
            Retry("send dead letters", () => deadLetters.Publish(signal.DeadLetterTopic, letters, stop), stop);
            foreach (var letter in letters)
            {
                metrics.DeadLettered(signal.Name, DeadLetterStore.StageName(letter.Stage));
                HandlerLog.DeadLettered(logger, letter.Source.TopicPartitionOffset.ToString(), letter.Reason);
            }
        }

        metrics.BatchStored(signal.Name, result.Rows, result.Duplicates, time.GetElapsedTime(started));
        if (result.Duplicates > 0)
        {
            HandlerLog.Duplicates(logger, result.Duplicates, signal.Name, result.Rows);
        }
    }

    /// <summary>
    /// Decodes and stores one record again (a dead letter's replay) as the pipeline would: the outcome says
    /// what was stored, or why the record still cannot be; an outage throws, as it does for a batch.
    /// </summary>
    public ReplayOutcome Replay(ConsumeResult<byte[]?, byte[]?> source)
    {
        var (record, letter) = signal.CreateDecoder()(source);
        if (record is null)
        {
            return new ReplayOutcome(false, $"still not stored ({DeadLetterStore.StageName(letter!.Stage)}): {letter.Reason}");
        }

        try
        {
            var result = signal.Write([record]);
            return new ReplayOutcome(true, $"stored: {result.Rows} {signal.Name} new, {result.Duplicates} already stored");
        }
        catch (PostgresException ex) when (IsDataError(ex))
        {
            return new ReplayOutcome(false, $"still not stored (database): PostgreSQL refused the record's rows: {ex.SqlState} {ex.MessageText}");
        }
    }

    private WriteResult WriteOrIsolate(IReadOnlyList<TRecord> records, List<DeadLetter> letters, CancellationToken stop)
    {
        if (records.Count == 0)
        {
            return default;
        }

        try
        {
            return Retry("write " + signal.Name, () => signal.Write(records), stop);
        }
        catch (PostgresException ex) when (IsDataError(ex))
        {
            if (records.Count == 1)
            {
                letters.Add(new DeadLetter(records[0].Source, DeadLetterStage.Database,
                    $"PostgreSQL refused the record's rows: {ex.SqlState} {ex.MessageText}"));
                return default;
            }

            HandlerLog.Isolating(logger, records.Count, ex.SqlState, ex.MessageText);
            var half = records.Count / 2;
            var first = WriteOrIsolate([.. records.Take(half)], letters, stop);
            var second = WriteOrIsolate([.. records.Skip(half)], letters, stop);
            return new WriteResult(first.Rows + second.Rows, first.Duplicates + second.Duplicates, first.Traces + second.Traces, first.UsedFallback || second.UsedFallback);
        }
    }

    private T Retry<T>(string what, Func<T> action, CancellationToken stop)
    {
        var delay = options.Value.RetryInitialDelay;
        for (var attempt = 1; ; attempt++)
        {
            stop.ThrowIfCancellationRequested();
            heartbeat.WriteStarted();
            try
            {
                return action();
            }
            catch (Exception ex) when (IsTransient(ex, stop))
            {
                if (ex is PostgresException { SqlState: PostgresErrorCodes.CheckViolation, ConstraintName: null })
                {
                    // "no partition of relation found for row": another processor's retention dropped a
                    // partition this one still believed in.
                    storage.ReloadPartitions();
                }

                HandlerLog.Retrying(logger, what, attempt, Describe(ex), delay);
            }
            finally
            {
                heartbeat.WriteEnded();
            }

            if (stop.WaitHandle.WaitOne(delay))
            {
                stop.ThrowIfCancellationRequested();
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.Value.RetryMaxDelay.Ticks));
        }
    }

    private void Retry(string what, Action action, CancellationToken stop) => Retry(what, () =>
    {
        action();
        return true;
    }, stop);

    /// <summary>PostgreSQL refused the data itself: retrying the same rows cannot help.</summary>
    internal static bool IsDataError(PostgresException ex)
        => ex.SqlState.StartsWith("22", StringComparison.Ordinal) // data exception
           || ex.SqlState.StartsWith("54", StringComparison.Ordinal) // program limit exceeded (a value too large)
           || (ex.SqlState.StartsWith("23", StringComparison.Ordinal) && !IsMissingPartition(ex));

    /// <summary>Everything else is an outage or a conflict that passes: retry it (and never drop the batch).</summary>
    private static bool IsTransient(Exception ex, CancellationToken stop) => ex switch
    {
        OperationCanceledException when stop.IsCancellationRequested => false,
        PostgresException pg => !IsDataError(pg),
        NpgsqlException or KafkaException or TimeoutException or IOException or System.Net.Sockets.SocketException => true,
        AggregateException aggregate => aggregate.InnerExceptions.All(e => IsTransient(e, stop)),
        InvalidOperationException when ex.InnerException is NpgsqlException => true,
        _ => false,
    };

    private static bool IsMissingPartition(PostgresException ex) => ex is { SqlState: PostgresErrorCodes.CheckViolation, ConstraintName: null };

    private static string Describe(Exception ex) => ex switch
    {
        PostgresException pg => $"{pg.SqlState} {pg.MessageText}",
        AggregateException aggregate => string.Join("; ", aggregate.InnerExceptions.Select(Describe).Distinct()),
        _ => ex.Message,
    };
}

/// <summary>The batch handler's log messages (outside the generic class, for the source generator).</summary>
internal static partial class HandlerLog
{
    [LoggerMessage(EventId = 1200, Level = LogLevel.Warning, Message = "Could not {What} (attempt {Attempt}): {Error}; retrying in {Delay}")]
    public static partial void Retrying(ILogger logger, string what, int attempt, string error, TimeSpan delay);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "PostgreSQL refused a batch of {Records} records ({SqlState} {Error}); splitting it to find the record")]
    public static partial void Isolating(ILogger logger, int records, string sqlState, string error);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "Record {Source} sent to the dead-letter topic: {Reason}")]
    public static partial void DeadLettered(ILogger logger, string source, string reason);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Information, Message = "Skipped {Duplicates} re-delivered {Signal} already stored; stored {Rows} new")]
    public static partial void Duplicates(ILogger logger, int duplicates, string signal, int rows);
}
