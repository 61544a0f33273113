using System.Runtime.ExceptionServices;
using Confluent.Kafka;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.Processor.Pipeline;

/// <summary>
/// The consume loop of one signal (<see cref="IRecordSignal{TRecord}"/>: spans from otlp.spans.v1, logs from
/// otlp.logs.v1): reads its topic into batches, hands each to a writer, and commits a batch's
/// offsets only after it is stored. While writers store batches (up to Processor:MaxBatchesInFlight at
/// once, each in its own transaction on its own connection, so one batch's trace upserts and commit
/// overlap the next one's COPY), the loop reads and decodes the next. Offsets are committed in batch
/// order, only for batches whose predecessors are all stored; a batch begun before a rebalance never
/// commits (its records are re-delivered to their new owner and written again, idempotently).
/// Blocking: run it on a thread of its own.
/// </summary>
internal class RecordPipeline<TRecord>(
    KafkaClientFactory kafka,
    IRecordSignal<TRecord> signal,
    RecordBatchHandler<TRecord> handler,
    ProcessorMetrics metrics,
    WorkerHeartbeat heartbeat,
    IOptions<ProcessorOptions> options,
    TimeProvider time,
    ILogger logger) : IDisposable
    where TRecord : IDecodedRecord
{
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan BusyPoll = TimeSpan.FromMilliseconds(10);

    /// <summary>How long the loop waits for a busy writer before pausing fetches and polling only to stay in the group.</summary>
    private static readonly TimeSpan PauseAfter = TimeSpan.FromSeconds(1);

    /// <summary>How long a rebalance waits for the batch being written, so its offsets can still be committed.</summary>
    private static readonly TimeSpan RevokeWait = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan CommitRetryAfter = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LagEvery = TimeSpan.FromSeconds(1);

    private readonly ProcessorOptions _options = options.Value;
    private readonly Func<ConsumeResult<byte[]?, byte[]?>, (TRecord? Record, DeadLetter? DeadLetter)> _decode = signal.CreateDecoder();

    // The batch being gathered.
    private readonly List<TRecord> _records = [];
    private readonly List<DeadLetter> _letters = [];
    private readonly Dictionary<TopicPartition, Offset> _nextOffsets = [];
    private int _rows;
    private long _firstRecordAt;

    // The batches being written, oldest first, and what the loop knows of its partitions.
    private readonly Queue<Task<PreparedBatch<TRecord>>> _writing = new();
    private readonly Dictionary<TopicPartition, Offset> _pendingCommit = [];
    private readonly Dictionary<TopicPartition, Offset> _committed = [];
    private readonly HashSet<TopicPartition> _assigned = [];
    private int _generation;
    private bool _paused;
    private bool _closing;
    private long _commitFailedAt;
    private long _lagAt;
    private CancellationToken _stop;

    /// <summary>Raised on the loop's thread after offsets are committed (after their batch is stored).</summary>
    public event Action<IReadOnlyList<TopicPartitionOffset>>? Committed;

    private IConsumer<byte[]?, byte[]?>? _consumer;

    /// <summary>
    /// Creates the consumer: subscribed to the signal's topic as a member of the processor group, or
    /// (benchmarks) on a fixed <paramref name="assignment"/> from the group's committed offsets.
    /// </summary>
    public void Start(IReadOnlyList<TopicPartition>? assignment = null)
    {
        var clientId = $"processor-{Environment.MachineName}-{Environment.ProcessId}";
        var consumer = kafka.CreateConsumer<byte[]?, byte[]?>(clientId, kafka.Options.ConsumerGroup, builder => builder
            .SetPartitionsAssignedHandler((c, partitions) => OnAssigned(c, partitions))
            .SetPartitionsRevokedHandler((c, partitions) => OnRevoked(c, [.. partitions.Select(p => p.TopicPartition)], commit: true))
            .SetPartitionsLostHandler((c, partitions) => OnRevoked(c, [.. partitions.Select(p => p.TopicPartition)], commit: false)));
        if (assignment is null)
        {
            consumer.Subscribe(signal.Topic);
        }
        else
        {
            consumer.Assign(assignment.Select(p => new TopicPartitionOffset(p, Offset.Stored)));
            OnAssigned(consumer, [.. assignment]);
        }

        _consumer = consumer;
        PipelineLog.Started(logger, signal.Topic, kafka.Options.ConsumerGroup, _options.BatchMaxSpans, signal.Name, _options.BatchMaxWait);
    }

    /// <summary>
    /// Consumes until <paramref name="stop"/> is cancelled; returns once the batches in flight are stored
    /// and committed (or abandoned after Processor:ShutdownTimeout). <see cref="Dispose"/> then leaves the group.
    /// </summary>
    public void Run(CancellationToken stop)
    {
        var consumer = _consumer ?? throw new InvalidOperationException("Start the pipeline first");
        _stop = stop;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                Turn(consumer);
            }
        }
        finally
        {
            Finish(consumer);
        }
    }

    /// <summary>Closes the consumer, leaving the group so its partitions move to another processor at once.</summary>
    public void Dispose()
    {
        if (_consumer is not { } consumer)
        {
            return;
        }

        _consumer = null;
        _closing = true;
        try
        {
            consumer.Close();
        }
        catch (KafkaException ex)
        {
            PipelineLog.CloseFailed(logger, ex.Message);
        }

        consumer.Dispose();
    }

    private void Turn(IConsumer<byte[]?, byte[]?> consumer)
    {
        heartbeat.Beat();
        CollectWrites();
        CommitPending(consumer);
        UpdateLag(consumer);
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        if (_writing.Count < _options.MaxBatchesInFlight && IsDue())
        {
            HandOff(consumer);
            return;
        }

        if (IsFull())
        {
            WaitForWriter(consumer);
            return;
        }

        // Short waits while writers work, so a batch's offsets are committed soon after it is stored.
        var timeout = _writing.Count > 0
            ? BusyPoll
            : _records.Count + _letters.Count == 0
                ? IdlePoll
                : TimeSpan.FromTicks(Math.Max(0, (_options.BatchMaxWait - time.GetElapsedTime(_firstRecordAt)).Ticks));
        Consume(consumer, timeout);
    }

    private void Consume(IConsumer<byte[]?, byte[]?> consumer, TimeSpan timeout)
    {
        ConsumeResult<byte[]?, byte[]?>? result;
        try
        {
            result = consumer.Consume(timeout);
        }
        catch (ConsumeException ex) when (!ex.Error.IsFatal)
        {
            PipelineLog.ConsumeError(logger, ex.Error.Code, ex.Error.Reason);
            return;
        }

        if (result is { IsPartitionEOF: false })
        {
            Add(result);
        }
    }

    private void Add(ConsumeResult<byte[]?, byte[]?> result)
    {
        if (_records.Count + _letters.Count == 0)
        {
            _firstRecordAt = time.GetTimestamp();
        }

        var (record, letter) = _decode(result);
        if (record is not null)
        {
            _records.Add(record);
            _rows += record.RowCount;
        }
        else
        {
            _letters.Add(letter!);
        }

        _nextOffsets[result.TopicPartition] = result.Offset + 1;
    }

    private bool IsFull() => _rows >= _options.BatchMaxSpans || _records.Count + _letters.Count >= _options.BatchMaxRecords;

    private bool IsDue() => _records.Count + _letters.Count > 0 && (IsFull() || time.GetElapsedTime(_firstRecordAt) >= _options.BatchMaxWait);

    private void HandOff(IConsumer<byte[]?, byte[]?> consumer)
    {
        var batch = new PreparedBatch<TRecord>(
            [.. _records], [.. _letters],
            [.. _nextOffsets.Select(o => new TopicPartitionOffset(o.Key, o.Value))],
            _rows, _generation);
        ClearBatch();
        var stop = _stop;
        _writing.Enqueue(Task.Factory.StartNew(() =>
        {
            handler.Handle(batch, stop);
            return batch;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default));

        if (_paused)
        {
            consumer.Resume(consumer.Assignment);
            _paused = false;
        }
    }

    /// <summary>
    /// The next batch is full and every writer busy: wait for the oldest rather than read more. A write
    /// that takes long (the database is down) must not cost the group membership, so after a while
    /// fetching is paused and the loop keeps polling, which serves rebalances without reading records.
    /// </summary>
    private void WaitForWriter(IConsumer<byte[]?, byte[]?> consumer)
    {
        var since = time.GetTimestamp();
        while (_writing.Count >= _options.MaxBatchesInFlight && _writing.Peek() is { IsCompleted: false } writing && !_stop.IsCancellationRequested)
        {
            heartbeat.Beat();
            if (!_paused && time.GetElapsedTime(since) > PauseAfter)
            {
                consumer.Pause(consumer.Assignment);
                _paused = true;
            }

            if (!_paused)
            {
                ((IAsyncResult)writing).AsyncWaitHandle.WaitOne(BusyPoll);
                continue;
            }

            var result = consumer.Consume(IdlePoll);
            if (result is { IsPartitionEOF: false })
            {
                // A partition assigned during the pause is not paused: keep its record, pause it too.
                Add(result);
                consumer.Pause([result.TopicPartition]);
            }
        }
    }

    /// <summary>Takes the stored batches off the front of the queue: a batch counts only once every older one is stored.</summary>
    private void CollectWrites()
    {
        while (_writing.TryPeek(out var writing) && writing.IsCompleted)
        {
            _writing.Dequeue();
            if (writing.IsFaulted)
            {
                var error = writing.Exception!.InnerException!;
                if (error is OperationCanceledException && _stop.IsCancellationRequested)
                {
                    // Abandoned at shutdown: nothing after it may commit, or offsets would pass its records.
                    _writing.Clear();
                    return;
                }

                ExceptionDispatchInfo.Throw(error);
            }

            var batch = writing.Result;
            if (batch.Generation != _generation)
            {
                // Stored, but begun before a rebalance: the partitions' new owner re-reads these records.
                continue;
            }

            foreach (var offset in batch.NextOffsets)
            {
                if (!_pendingCommit.TryGetValue(offset.TopicPartition, out var pending) || pending < offset.Offset)
                {
                    _pendingCommit[offset.TopicPartition] = offset.Offset;
                }
            }
        }
    }

    /// <summary>Waits (beating the heartbeat) until every batch in flight is done or <paramref name="timeout"/> passes.</summary>
    private bool WaitForAllWrites(TimeSpan timeout)
    {
        var since = time.GetTimestamp();
        foreach (var writing in _writing)
        {
            while (!writing.IsCompleted && time.GetElapsedTime(since) < timeout)
            {
                heartbeat.Beat();
                ((IAsyncResult)writing).AsyncWaitHandle.WaitOne(BusyPoll);
            }
        }

        return _writing.All(w => w.IsCompleted);
    }

    private void CommitPending(IConsumer<byte[]?, byte[]?> consumer)
    {
        if (_pendingCommit.Count == 0 || (_commitFailedAt != 0 && time.GetElapsedTime(_commitFailedAt) < CommitRetryAfter))
        {
            return;
        }

        var offsets = _pendingCommit.Where(p => _assigned.Contains(p.Key)).Select(p => new TopicPartitionOffset(p.Key, p.Value)).ToList();
        try
        {
            if (offsets.Count > 0)
            {
                consumer.Commit(offsets);
            }

            _pendingCommit.Clear();
            _commitFailedAt = 0;
            foreach (var offset in offsets)
            {
                _committed[offset.TopicPartition] = offset.Offset;
            }

            if (offsets.Count > 0)
            {
                Committed?.Invoke(offsets);
            }
        }
        catch (KafkaException ex)
        {
            // The batch is stored; only the offsets wait. Should they never get through (the group moved
            // on), the records are delivered again and written again to the same result.
            _commitFailedAt = time.GetTimestamp();
            PipelineLog.CommitFailed(logger, offsets.Count, ex.Error.Code, ex.Error.Reason);
        }
    }

    private void UpdateLag(IConsumer<byte[]?, byte[]?> consumer)
    {
        if (_lagAt != 0 && time.GetElapsedTime(_lagAt) < LagEvery)
        {
            return;
        }

        _lagAt = time.GetTimestamp();
        long lag = 0;
        foreach (var partition in _assigned)
        {
            var watermarks = consumer.GetWatermarkOffsets(partition);
            if (watermarks.High == Offset.Unset || !_committed.TryGetValue(partition, out var committed))
            {
                continue;
            }

            lag += Math.Max(0, watermarks.High.Value - Math.Max(committed.Value, watermarks.Low.Value));
        }

        metrics.SetConsumerLag(signal.Name, lag);
    }

    private void OnAssigned(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartition> partitions)
    {
        _assigned.UnionWith(partitions);
        try
        {
            foreach (var committed in consumer.Committed(partitions, TimeSpan.FromSeconds(5)))
            {
                _committed[committed.TopicPartition] = committed.Offset == Offset.Unset ? new Offset(0) : committed.Offset;
            }
        }
        catch (KafkaException ex)
        {
            PipelineLog.CommitFailed(logger, partitions.Count, ex.Error.Code, ex.Error.Reason);
        }

        PipelineLog.Assigned(logger, partitions.Count, _assigned.Count);
    }

    private void OnRevoked(IConsumer<byte[]?, byte[]?> consumer, List<TopicPartition> partitions, bool commit)
    {
        if (commit && !_closing && _writing.Count > 0)
        {
            // Let the batches in flight finish, so their offsets are committed while these partitions are ours.
            WaitForAllWrites(_stop.IsCancellationRequested ? TimeSpan.Zero : RevokeWait);
            CollectWrites();
        }

        if (commit)
        {
            _commitFailedAt = 0;
            CommitPending(consumer);
        }

        // Whatever is still in flight or gathered for these partitions is left to their next owner.
        _generation++;
        var revoked = partitions.ToHashSet();
        _records.RemoveAll(r => revoked.Contains(r.Source.TopicPartition));
        _letters.RemoveAll(l => revoked.Contains(l.Source.TopicPartition));
        foreach (var partition in revoked)
        {
            _nextOffsets.Remove(partition);
            _pendingCommit.Remove(partition);
            _committed.Remove(partition);
            _assigned.Remove(partition);
        }

        _rows = _records.Sum(r => r.RowCount);
        if (_assigned.Count == 0)
        {
            _paused = false;
        }

        PipelineLog.Revoked(logger, partitions.Count, commit ? "revoked" : "lost", _assigned.Count);
    }

    /// <summary>Stops consuming: batches in flight may finish within Processor:ShutdownTimeout; the one being gathered is left for redelivery.</summary>
    private void Finish(IConsumer<byte[]?, byte[]?> consumer)
    {
        _closing = true;
        try
        {
            if (_writing.Count > 0)
            {
                if (!WaitForAllWrites(_options.ShutdownTimeout))
                {
                    PipelineLog.Abandoned(logger, _options.ShutdownTimeout);
                }

                // Whatever finished in order still commits; a batch still running is left for redelivery.
                CollectWrites();
                _commitFailedAt = 0;
                CommitPending(consumer);
            }
        }
        catch (Exception ex) when (ex is KafkaException or OperationCanceledException)
        {
            PipelineLog.CloseFailed(logger, ex.Message);
        }
    }

    private void ClearBatch()
    {
        _records.Clear();
        _letters.Clear();
        _nextOffsets.Clear();
        _rows = 0;
    }
}

/// <summary>The consume loop's log messages (outside the generic class, for the source generator).</summary>
internal static partial class PipelineLog
{
    [LoggerMessage(EventId = 1300, Level = LogLevel.Information,
        Message = "Consuming {Topic} as group {Group}; batches of up to {MaxRows} {Signal} or {MaxWait}")]
    public static partial void Started(ILogger logger, string topic, string group, int maxRows, string signal, TimeSpan maxWait);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Assigned {Count} partition(s); {Total} in all")]
    public static partial void Assigned(ILogger logger, int count, int total);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Information, Message = "{Count} partition(s) {How}; {Total} left")]
    public static partial void Revoked(ILogger logger, int count, string how, int total);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Warning, Message = "Could not commit offsets of {Count} partition(s): {Code} {Reason}; the batch is stored, retrying")]
    public static partial void CommitFailed(ILogger logger, int count, ErrorCode code, string reason);

    [LoggerMessage(EventId = 1304, Level = LogLevel.Warning, Message = "Consume error: {Code} {Reason}")]
    public static partial void ConsumeError(ILogger logger, ErrorCode code, string reason);

    [LoggerMessage(EventId = 1305, Level = LogLevel.Warning,
        Message = "Stopping with a batch still being written after {Timeout}: its offsets are not committed, so its records will be delivered again")]
    public static partial void Abandoned(ILogger logger, TimeSpan timeout);

    [LoggerMessage(EventId = 1306, Level = LogLevel.Warning, Message = "Closing the consumer failed: {Error}")]
    public static partial void CloseFailed(ILogger logger, string error);
}
