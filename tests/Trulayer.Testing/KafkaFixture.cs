using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Trulayer.AppHost.Run;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.Testing;

/// <summary>
/// A dev Kafka broker (librdkafka's mock cluster, reached over TCP) of one test class's own, with the
/// pipeline's topics created. Its own broker, so a test may take it down without touching other classes.
/// </summary>
public sealed class KafkaFixture : IDisposable
{
    /// <summary>Fewer than the dev stack's 256: enough for grouping and ordering, quicker to rebalance.</summary>
    public const int SpansPartitions = 8;

    public const int LogsPartitions = 4;

    public KafkaFixture()
    {
        Broker = DevKafkaBroker.Start();
        Broker.CreateTopic(KafkaTopics.Spans, SpansPartitions);
        Broker.CreateTopic(KafkaTopics.DeadLetter, 2);
        Broker.CreateTopic(KafkaTopics.Logs, LogsPartitions);
        Broker.CreateTopic(KafkaTopics.LogsDeadLetter, 2);
    }

    public DevKafkaBroker Broker { get; }

    public string BootstrapServers => Broker.BootstrapServers;

    /// <summary>The pipeline's options pointing at this broker; the topics and group are the defaults.</summary>
    public KafkaOptions CreateOptions() => new() { BootstrapServers = BootstrapServers };

    public KafkaClientFactory CreateClientFactory(KafkaOptions? options = null)
        => new(Microsoft.Extensions.Options.Options.Create(options ?? CreateOptions()), NullLoggerFactory.Instance);

    /// <summary>Creates a topic with a unique name (for tests that need one to themselves) and returns the name.</summary>
    public string CreateTopic(string prefix, int partitions = SpansPartitions)
    {
        var name = $"{prefix}.{Guid.NewGuid():N}";
        Broker.CreateTopic(name, partitions);
        return name;
    }

    /// <summary>Every record the topic holds right now, read from the start of each partition to its end.</summary>
    public IReadOnlyList<ConsumeResult<byte[]?, byte[]>> ReadAll(string topic, TimeSpan? timeout = null)
    {
        var factory = CreateClientFactory();
        using var admin = factory.CreateAdminClient("test-reader");
        var partitions = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.Single().Partitions
            .Select(p => new TopicPartition(topic, p.PartitionId))
            .ToList();
        using var consumer = factory.CreateConsumer<byte[]?, byte[]>("test-reader", "test-reader-" + Guid.NewGuid().ToString("N"));
        var remaining = partitions
            .Select(p => (Partition: p.Partition.Value, High: consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value))
            .Where(p => p.High > 0)
            .ToDictionary(p => p.Partition, p => p.High);
        consumer.Assign(partitions.Select(p => new TopicPartitionOffset(p, Offset.Beginning)));

        var records = new List<ConsumeResult<byte[]?, byte[]>>();
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (remaining.Count > 0 && DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is null || result.IsPartitionEOF)
            {
                continue;
            }

            records.Add(result);
            if (result.Offset.Value + 1 >= remaining.GetValueOrDefault(result.Partition.Value, long.MaxValue))
            {
                remaining.Remove(result.Partition.Value);
            }
        }

        if (remaining.Count > 0)
        {
            throw new TimeoutException($"could not read {topic} to its end in time ({records.Count} records read, {remaining.Count} partitions unfinished)");
        }

        return records;
    }

    public void Dispose() => Broker.Dispose();
}
