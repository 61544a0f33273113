using Confluent.Kafka;
using Microsoft.Extensions.Options;
using Trulayer.Ingest.Pipeline;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.Ingest.Admission;

/// <summary>One reading of the processor group's backlog, and what admission concluded from it.</summary>
/// <param name="ReadAt">When the lag was read.</param>
/// <param name="TotalRecords">Records on the spans topic not yet stored and committed, over all partitions.</param>
/// <param name="FullestPartition">The partition with the most such records.</param>
/// <param name="FullestPartitionRecords">How many it holds.</param>
/// <param name="FullestPartitionBytes">About how many bytes those are (records × <paramref name="BytesPerRecord"/>).</param>
/// <param name="BytesPerRecord">The estimate of what one record weighs in the broker's log.</param>
/// <param name="Fill">The fullest partition's share of the bound (records or bytes, whichever is fuller); 1 is the bound.</param>
/// <param name="Refusing">Whether admission refuses new spans after this reading.</param>
public sealed record BacklogReading(
    DateTimeOffset ReadAt,
    long TotalRecords,
    int FullestPartition,
    long FullestPartitionRecords,
    long FullestPartitionBytes,
    double BytesPerRecord,
    double Fill,
    bool Refusing);

/// <summary>The admission's view of the backlog now: a fresh reading, or why there is none.</summary>
public sealed record BacklogState(BacklogReading? Reading, string? Problem)
{
    public bool Refusing => Reading is { Refusing: true };
}

/// <summary>
/// Reads the processor group's lag on the spans topic every <see cref="AdmissionOptions.RefreshInterval"/>
/// (ServiceDefaults' <see cref="ConsumerLagReader"/>: committed offsets against high watermarks, without
/// joining the group) and decides whether the backlog is over its bound, per partition, in records and
/// in bytes.
/// </summary>
/// <remarks>
/// Offsets count records, not bytes, and Kafka (Confluent.Kafka 1.9.3, the dev broker) offers no cheap way
/// to ask how many bytes a partition holds past an offset. So bytes are estimated: records × what a record
/// weighs, measured on the records this ingest produced (key and value, as a moving average over the
/// last seconds) plus <see cref="LogOverheadBytesPerRecord"/> for the broker's framing (a record batch
/// header, as if each record travelled alone). Records are spread over partitions by their trace key, so
/// the average holds for each partition up to chance, which the safety margin covers. Until this ingest
/// has produced anything (just started beside an old backlog), a record is assumed to weigh
/// <see cref="AssumedRecordBytes"/>.
/// </remarks>
public sealed partial class BacklogMonitor(
    KafkaClientFactory kafka,
    IOptions<AdmissionOptions> options,
    TimeProvider time,
    ILogger<BacklogMonitor> logger,
    string? topic = null) : BackgroundService
{
    /// <summary>The key of the monitor of the logs topic (<see cref="KafkaOptions.LogsTopic"/>); the unkeyed one reads the spans topic.</summary>
    public const string LogsKey = "logs";

    /// <summary>A record batch's header (61 bytes) and a record's own framing, counted for every record.</summary>
    public const int LogOverheadBytesPerRecord = 80;

    /// <summary>What a record is assumed to weigh before this ingest has produced one: a trace of about 20 GenAI spans.</summary>
    public const int AssumedRecordBytes = 64 * 1024;

    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(3);
    private readonly AdmissionOptions _options = options.Value;
    private volatile BacklogState _state = new(null, "the lag has not been read yet");
    private long _producedRecords;
    private long _producedBytes;
    private double _bytesPerRecord = AssumedRecordBytes;
    private bool _measured;
    private bool? _readable;

    public AdmissionOptions Options => _options;

    /// <summary>The topic whose backlog this monitor reads.</summary>
    public string Topic { get; } = topic ?? kafka.Options.SpansTopic;

    /// <summary>The backlog as admission should see it now: a reading older than StaleAfter does not count.</summary>
    public BacklogState Current
    {
        get
        {
            var state = _state;
            if (state.Reading is { } reading && time.GetUtcNow() - reading.ReadAt > _options.StaleAfter)
            {
                return new BacklogState(null, $"the last lag reading is {(time.GetUtcNow() - reading.ReadAt).TotalSeconds:0} s old");
            }

            return state;
        }
    }

    /// <summary>Told about records Kafka acknowledged, to learn what the backlog weighs.</summary>
    public void RecordsProduced(IReadOnlyList<SpanRecord> records)
    {
        long bytes = 0;
        foreach (var record in records)
        {
            bytes += record.Key.Length + record.Value.Length;
        }

        Interlocked.Add(ref _producedBytes, bytes);
        Interlocked.Add(ref _producedRecords, records.Count);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            _state = new BacklogState(null, "admission is off (Ingest:Admission:Enabled)");
            return Task.CompletedTask;
        }

        // ConsumerLagReader blocks its thread on each round trip to the broker.
        return Task.Factory.StartNew(() => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private void Run(CancellationToken stoppingToken)
    {
        ConsumerLagReader? reader = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            var started = time.GetTimestamp();
            UpdateRecordWeight();
            try
            {
                reader ??= new ConsumerLagReader(kafka, Topic);
                Publish(reader.Read(ReadTimeout));
            }
            catch (Exception ex) when (ex is KafkaException or InvalidOperationException)
            {
                PublishUnknown(ex.Message);
                // A new reader next time: after a broker outage, a request the old connection sent may never be
                // answered, and librdkafka waits socket.timeout.ms (60 s) before it gives up on that connection.
                reader?.Dispose();
                reader = null;
            }

            var wait = _options.RefreshInterval - time.GetElapsedTime(started);
            if (wait > TimeSpan.Zero)
            {
                stoppingToken.WaitHandle.WaitOne(wait);
            }
        }

        reader?.Dispose();
    }

    private void UpdateRecordWeight()
    {
        var records = Interlocked.Exchange(ref _producedRecords, 0);
        var bytes = Interlocked.Exchange(ref _producedBytes, 0);
        if (records == 0)
        {
            return;
        }

        var average = (double)bytes / records;
        _bytesPerRecord = _measured ? 0.7 * _bytesPerRecord + 0.3 * average : average;
        _measured = true;
    }

    private void Publish(ConsumerLag lag)
    {
        var fullest = lag.Partitions.Count == 0 ? default : lag.Partitions.MaxBy(p => p.Records);
        var bytesPerRecord = _bytesPerRecord + LogOverheadBytesPerRecord;
        var records = fullest.Records;
        var bytes = (long)(records * bytesPerRecord);
        var fill = Math.Max((double)records / _options.EffectiveMaxPartitionRecords, (double)bytes / _options.EffectiveMaxPartitionBytes);
        var previous = _state;
        var wasRefusing = previous.Refusing;
        var refusing = wasRefusing ? fill >= _options.ResumeBelow : fill > 1;
        var reading = new BacklogReading(time.GetUtcNow(), lag.TotalRecords, fullest.Partition, records, bytes, bytesPerRecord, fill, refusing);
        _state = new BacklogState(reading, null);

        if (_readable == false)
        {
            Log.LagReadable(logger, Topic);
        }

        _readable = true;

        if (refusing && !wasRefusing)
        {
            Log.Refusing(logger, Topic, fullest.Partition, records, bytes, _options.EffectiveMaxPartitionRecords, _options.EffectiveMaxPartitionBytes);
        }
        else if (!refusing && wasRefusing)
        {
            Log.Admitting(logger, Topic, fullest.Partition, records, bytes);
        }
    }

    private void PublishUnknown(string problem)
    {
        _state = new BacklogState(null, $"the processor's lag cannot be read: {problem}");
        if (_readable != false)
        {
            Log.LagUnreadable(logger, Topic, problem);
        }

        _readable = false;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 320, Level = LogLevel.Warning, Message = "Backlog of {Topic} over its bound: partition {Partition} holds {Records} records (about {Bytes} bytes) not yet stored (bound {MaxRecords} records or {MaxBytes} bytes per partition); new requests for that topic are refused with 503 until it shrinks")]
        public static partial void Refusing(ILogger logger, string topic, int partition, long records, long bytes, long maxRecords, long maxBytes);

        [LoggerMessage(EventId = 321, Level = LogLevel.Information, Message = "Backlog of {Topic} back under its bound (fullest: partition {Partition}, {Records} records, about {Bytes} bytes); admitting again")]
        public static partial void Admitting(ILogger logger, string topic, int partition, long records, long bytes);

        [LoggerMessage(EventId = 322, Level = LogLevel.Warning, Message = "The processor's lag on {Topic} cannot be read ({Problem}); admitting: Kafka's acknowledgements still decide what is accepted")]
        public static partial void LagUnreadable(ILogger logger, string topic, string problem);

        [LoggerMessage(EventId = 323, Level = LogLevel.Information, Message = "The processor's lag on {Topic} can be read again")]
        public static partial void LagReadable(ILogger logger, string topic);
    }
}
