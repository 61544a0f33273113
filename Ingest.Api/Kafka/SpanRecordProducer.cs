using Confluent.Kafka;
using Microsoft.Extensions.Options;
using Trulayer.Ingest.Pipeline;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.Ingest.Kafka;

/// <summary>Whether Kafka acknowledged every record of a request, and if not, why.</summary>
public readonly record struct ProduceOutcome(bool Delivered, string? Failure)
{
    public static readonly ProduceOutcome Success = new(true, null);
}

/// <summary>
/// Produces a request's records to the spans topic (or the logs topic) with the pipeline's one producer
/// (idempotent, acks=all) and waits until the broker has acknowledged every one of them, or until
/// Kafka:ProduceTimeout has passed: ingest answers 200 only for what Kafka holds.
/// </summary>
public sealed partial class SpanRecordProducer : IDisposable
{
    private readonly KafkaClientFactory _factory;
    private readonly ILogger<SpanRecordProducer> _logger;
    private readonly string _topic;
    private readonly string _logsTopic;
    private readonly TimeSpan _timeout;
    private readonly Lock _lock = new();
    private IProducer<string, byte[]> _producer;
    private volatile bool _fatal;

    public SpanRecordProducer(KafkaClientFactory factory, ILogger<SpanRecordProducer> logger)
    {
        _factory = factory;
        _logger = logger;
        _topic = factory.Options.SpansTopic;
        _logsTopic = factory.Options.LogsTopic;
        // librdkafka gives up on a record after message.timeout.ms (the same ProduceTimeout) and reports
        // it; the extra second only covers the report's way back.
        _timeout = factory.Options.ProduceTimeout + TimeSpan.FromSeconds(1);
        _producer = Create();
    }

    public string Topic => _topic;

    public string LogsTopic => _logsTopic;

    public Task<ProduceOutcome> ProduceAsync(IReadOnlyList<SpanRecord> records, CancellationToken cancellationToken)
        => ProduceAsync(_topic, records, cancellationToken);

    public async Task<ProduceOutcome> ProduceAsync(string topic, IReadOnlyList<SpanRecord> records, CancellationToken cancellationToken)
    {
        if (records.Count == 0)
        {
            return ProduceOutcome.Success;
        }

        var producer = Current();
        var delivery = new DeliveryTracker(records.Count);
        foreach (var record in records)
        {
            try
            {
                producer.Produce(topic, new Message<string, byte[]> { Key = record.Key, Value = record.Value }, delivery.OnReport);
            }
            catch (KafkaException ex)
            {
                // The local queue is full or the producer failed: nothing more of this request can go.
                delivery.Fail(ex.Error);
                break;
            }
        }

        Error? error;
        try
        {
            error = await delivery.Completion.WaitAsync(_timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            Log.ProduceTimedOut(_logger, records.Count, _timeout);
            return new ProduceOutcome(false, $"Kafka did not acknowledge the records within {_timeout.TotalSeconds:0.#} s");
        }

        if (error is null)
        {
            return ProduceOutcome.Success;
        }

        if (error.IsFatal)
        {
            _fatal = true;
        }

        Log.ProduceFailed(_logger, records.Count, error.Code, error.Reason);
        return new ProduceOutcome(false, $"Kafka did not take the records: {error.Reason}");
    }

    /// <summary>The producer, replaced when the last one failed fatally (an idempotence violation, say).</summary>
    private IProducer<string, byte[]> Current()
    {
        if (!_fatal)
        {
            return _producer;
        }

        lock (_lock)
        {
            if (_fatal)
            {
                Log.ProducerReplaced(_logger);
                var old = _producer;
                _producer = Create();
                _fatal = false;
                old.Dispose();
            }

            return _producer;
        }
    }

    private IProducer<string, byte[]> Create() => _factory.CreateProducer<string, byte[]>("ingest");

    public void Dispose()
    {
        // Whatever is still in flight was never acknowledged to a client, but delivering it is still
        // better than dropping it.
        _producer.Flush(_factory.Options.ProduceTimeout);
        _producer.Dispose();
    }

    /// <summary>Counts delivery reports; completes with the first error or when every record is acknowledged.</summary>
    private sealed class DeliveryTracker(int records)
    {
        private readonly TaskCompletionSource<Error?> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _pending = records;

        public Task<Error?> Completion => _completion.Task;

        public void OnReport(DeliveryReport<string, byte[]> report)
        {
            if (report.Error.IsError)
            {
                _completion.TrySetResult(report.Error);
            }
            else if (Interlocked.Decrement(ref _pending) == 0)
            {
                _completion.TrySetResult(null);
            }
        }

        public void Fail(Error error) => _completion.TrySetResult(error);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 310, Level = LogLevel.Warning, Message = "Kafka did not acknowledge {Records} records within {Timeout}")]
        public static partial void ProduceTimedOut(ILogger logger, int records, TimeSpan timeout);

        [LoggerMessage(EventId = 311, Level = LogLevel.Warning, Message = "Kafka refused {Records} records: {Code} {Reason}")]
        public static partial void ProduceFailed(ILogger logger, int records, ErrorCode code, string reason);

        [LoggerMessage(EventId = 312, Level = LogLevel.Warning, Message = "The Kafka producer failed fatally; a new one replaces it")]
        public static partial void ProducerReplaced(ILogger logger);
    }
}
