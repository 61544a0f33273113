using Confluent.Kafka;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.ServiceDefaults.Tests;

public sealed class KafkaTests(KafkaFixture kafka) : IClassFixture<KafkaFixture>
{
    [Fact]
    public void ProducerConfig_IsIdempotentWithAcksAll()
    {
        var config = kafka.CreateClientFactory().CreateProducerConfig("test");

        Assert.True(config.EnableIdempotence);
        Assert.Equal(Acks.All, config.Acks);
        Assert.Equal(kafka.BootstrapServers, config.BootstrapServers);
    }

    [Fact]
    public void ProducerConfig_ExtraPropertiesFromOptions_AreApplied()
    {
        var options = kafka.CreateOptions();
        options.Producer["linger.ms"] = "17";

        Assert.Equal(17, kafka.CreateClientFactory(options).CreateProducerConfig("test").LingerMs);
    }

    [Fact]
    public async Task ConsumerLagReader_CountsWhatTheGroupHasNotCommitted()
    {
        var topic = kafka.CreateTopic("lag", partitions: 4);
        var options = kafka.CreateOptions();
        options.SpansTopic = topic;
        options.ConsumerGroup = "lag-" + Guid.NewGuid().ToString("N");
        var factory = kafka.CreateClientFactory(options);

        using (var producer = factory.CreateProducer<string, string>("test"))
        {
            for (var i = 0; i < 40; i++)
            {
                await producer.ProduceAsync(topic, new Message<string, string> { Key = $"k{i}", Value = "v" });
            }
        }

        using var reader = new ConsumerLagReader(factory);
        var before = reader.Read(TimeSpan.FromSeconds(10));
        Assert.Equal(40, before.TotalRecords);
        Assert.Equal(4, before.Partitions.Count);

        using var consumer = factory.CreateConsumer<string, string>("test", options.ConsumerGroup);
        consumer.Subscribe(topic);
        var consumed = 0;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (consumed < 25 && DateTime.UtcNow < deadline)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (result is not null)
            {
                consumed++;
                consumer.Commit([new TopicPartitionOffset(result.TopicPartition, result.Offset + 1)]);
            }
        }

        Assert.Equal(25, consumed);
        Assert.Equal(15, reader.Read(TimeSpan.FromSeconds(10)).TotalRecords);
        consumer.Close();
    }
}
