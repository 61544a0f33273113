using Confluent.Kafka;

namespace Trulayer.ServiceDefaults.Kafka;

/// <summary>The processor group's backlog on one topic: committed offsets against high watermarks.</summary>
public sealed record ConsumerLag(string Topic, string Group, IReadOnlyList<PartitionLag> Partitions)
{
    /// <summary>Records produced but not yet committed by the group, over all partitions.</summary>
    public long TotalRecords => Partitions.Sum(p => p.Records);

    /// <summary>The largest backlog of any one partition: what retention limits apply to.</summary>
    public long MaxPartitionRecords => Partitions.Count == 0 ? 0 : Partitions.Max(p => p.Records);
}

public readonly record struct PartitionLag(int Partition, long Committed, long LowWatermark, long HighWatermark)
{
    /// <summary>Records not yet committed; a partition the group never committed counts from its low watermark.</summary>
    public long Records => HighWatermark - Math.Max(Committed < 0 ? LowWatermark : Committed, LowWatermark);
}

/// <summary>
/// Reads a consumer group's lag without joining the group: a consumer with the group's id that never
/// subscribes can still fetch the group's committed offsets. Used by the AppHost to drain on shutdown
/// and by ingest's admission control.
/// </summary>
public sealed class ConsumerLagReader : IDisposable
{
    private readonly IConsumer<byte[], byte[]> _consumer;
    private readonly IAdminClient _admin;
    private readonly string _topic;
    private readonly string _group;

    public ConsumerLagReader(KafkaClientFactory factory, string? topic = null, string? group = null)
    {
        _topic = topic ?? factory.Options.SpansTopic;
        _group = group ?? factory.Options.ConsumerGroup;
        _consumer = factory.CreateConsumer<byte[], byte[]>("lag-reader", _group);
        _admin = factory.CreateAdminClient("lag-reader");
    }

    /// <summary>Reads the lag of every partition; blocks up to about <paramref name="timeout"/> per round trip.</summary>
    public ConsumerLag Read(TimeSpan timeout)
    {
        var metadata = _admin.GetMetadata(_topic, timeout);
        var topicMetadata = metadata.Topics.Single(t => t.Topic == _topic);
        if (topicMetadata.Error.IsError)
        {
            throw new KafkaException(topicMetadata.Error);
        }

        var partitions = topicMetadata.Partitions
            .Select(p => new TopicPartition(_topic, new Partition(p.PartitionId)))
            .ToList();
        var committed = _consumer.Committed(partitions, timeout)
            .ToDictionary(c => c.Partition.Value, c => c.Offset.Value);

        var lags = new PartitionLag[partitions.Count];
        Parallel.For(0, partitions.Count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var watermarks = _consumer.QueryWatermarkOffsets(partitions[i], timeout);
            var partition = partitions[i].Partition.Value;
            lags[i] = new PartitionLag(partition, committed.GetValueOrDefault(partition, -1), watermarks.Low.Value, watermarks.High.Value);
        });
        return new ConsumerLag(_topic, _group, lags);
    }

    public void Dispose()
    {
        _consumer.Close();
        _consumer.Dispose();
        _admin.Dispose();
    }
}
