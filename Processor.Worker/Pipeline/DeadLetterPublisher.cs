using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.Processor.Pipeline;

/// <summary>
/// Sends records the processor cannot store to their signal's dead-letter topic (otlp.dlq.v1 for spans,
/// otlp.logs.dlq.v1 for logs): the original key, value and
/// headers, plus headers naming the reason and where the record came from. At least once: a retry after
/// a lost acknowledgement can send a record twice.
/// </summary>
internal sealed class DeadLetterPublisher(KafkaClientFactory factory) : IDisposable
{
    public const string ReasonHeader = "trulayer-dlq-reason";
    public const string StageHeader = "trulayer-dlq-stage";
    public const string SourceTopicHeader = "trulayer-dlq-source-topic";
    public const string SourcePartitionHeader = "trulayer-dlq-source-partition";
    public const string SourceOffsetHeader = "trulayer-dlq-source-offset";
    public const string FailedAtHeader = "trulayer-dlq-failed-at";

    private readonly Lazy<IProducer<byte[]?, byte[]?>> _producer = new(() => factory.CreateProducer<byte[]?, byte[]?>("processor-dlq"));

    /// <summary>Sends every letter to <paramref name="topic"/> and waits for the broker to acknowledge all of them; throws if any fails.</summary>
    public void Publish(string topic, IReadOnlyList<DeadLetter> letters, CancellationToken cancellationToken)
    {
        var deliveries = letters.Select(letter => _producer.Value.ProduceAsync(topic, ToMessage(letter), cancellationToken)).ToArray();
        Task.WaitAll(deliveries, cancellationToken);
    }

    internal static Message<byte[]?, byte[]?> ToMessage(DeadLetter letter)
    {
        var source = letter.Source;
        var headers = new Headers();
        foreach (var header in source.Message.Headers ?? [])
        {
            headers.Add(header.Key, header.GetValueBytes());
        }

        headers.Add(ReasonHeader, Encoding.UTF8.GetBytes(letter.Reason));
        headers.Add(StageHeader, Encoding.UTF8.GetBytes(letter.Stage == DeadLetterStage.Decode ? "decode" : "database"));
        headers.Add(SourceTopicHeader, Encoding.UTF8.GetBytes(source.Topic));
        headers.Add(SourcePartitionHeader, Encoding.UTF8.GetBytes(source.Partition.Value.ToString(CultureInfo.InvariantCulture)));
        headers.Add(SourceOffsetHeader, Encoding.UTF8.GetBytes(source.Offset.Value.ToString(CultureInfo.InvariantCulture)));
        headers.Add(FailedAtHeader, Encoding.UTF8.GetBytes(DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture)));
        return new Message<byte[]?, byte[]?> { Key = source.Message.Key, Value = source.Message.Value, Headers = headers };
    }

    public void Dispose()
    {
        if (_producer.IsValueCreated)
        {
            _producer.Value.Flush(TimeSpan.FromSeconds(5));
            _producer.Value.Dispose();
        }
    }
}
