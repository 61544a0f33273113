using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Trulayer.ServiceDefaults.Kafka;

/// <summary>Builds Kafka clients from <see cref="KafkaOptions"/> with the pipeline's settings.</summary>
public sealed partial class KafkaClientFactory(IOptions<KafkaOptions> options, ILoggerFactory loggerFactory)
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("Trulayer.Kafka");

    public KafkaOptions Options => options.Value;

    /// <summary>
    /// The producer settings every record of the pipeline is written with: idempotent, acks from all
    /// in-sync replicas, so an acknowledged record survives a broker failure and a retry never
    /// duplicates it.
    /// </summary>
    public ProducerConfig CreateProducerConfig(string clientId)
    {
        var config = new ProducerConfig
        {
            BootstrapServers = Options.BootstrapServers,
            ClientId = clientId,
            EnableIdempotence = true,
            Acks = Acks.All,
            // No linger: a client's request waits for its own records only. Under load records still
            // batch, queued behind the produce requests already in flight.
            LingerMs = 0,
            MessageTimeoutMs = (int)Math.Max(1000, Options.ProduceTimeout.TotalMilliseconds),
            // The pipeline sends records of up to 1 MB (Kafka's default max.message.bytes).
            MessageMaxBytes = 1_048_576 + 64 * 1024,
            SocketKeepaliveEnable = true,
            // librdkafka leaves Nagle's algorithm on; Kafka's Java clients and brokers turn it off, as here.
            SocketNagleDisable = true,
        };
        Apply(config, Options.Producer);
        return config;
    }

    public ConsumerConfig CreateConsumerConfig(string clientId, string groupId)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = Options.BootstrapServers,
            ClientId = clientId,
            GroupId = groupId,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            IsolationLevel = IsolationLevel.ReadCommitted,
            SocketKeepaliveEnable = true,
            SocketNagleDisable = true,
        };
        Apply(config, Options.Consumer);
        return config;
    }

    public IProducer<TKey, TValue> CreateProducer<TKey, TValue>(string clientId, Action<ProducerBuilder<TKey, TValue>>? configure = null)
    {
        KafkaNative.EnsureRegistered();
        var builder = new ProducerBuilder<TKey, TValue>(CreateProducerConfig(clientId))
            .SetLogHandler((_, message) => LogLibrdkafka(message))
            .SetErrorHandler((_, error) => LogClientError(clientId, error));
        configure?.Invoke(builder);
        return builder.Build();
    }

    public IConsumer<TKey, TValue> CreateConsumer<TKey, TValue>(string clientId, string groupId, Action<ConsumerBuilder<TKey, TValue>>? configure = null)
    {
        KafkaNative.EnsureRegistered();
        var builder = new ConsumerBuilder<TKey, TValue>(CreateConsumerConfig(clientId, groupId))
            .SetLogHandler((_, message) => LogLibrdkafka(message))
            .SetErrorHandler((_, error) => LogClientError(clientId, error));
        configure?.Invoke(builder);
        return builder.Build();
    }

    public IAdminClient CreateAdminClient(string clientId)
    {
        KafkaNative.EnsureRegistered();
        return new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Options.BootstrapServers, ClientId = clientId })
            .SetLogHandler((_, message) => LogLibrdkafka(message))
            .Build();
    }

    private static void Apply(ClientConfig config, Dictionary<string, string> overrides)
    {
        foreach (var (key, value) in overrides)
        {
            config.Set(key, value);
        }
    }

    private void LogLibrdkafka(LogMessage message)
    {
        var level = (int)message.Level switch
        {
            <= 3 => LogLevel.Error,
            4 => LogLevel.Warning,
            5 or 6 => LogLevel.Information,
            _ => LogLevel.Debug,
        };
        Log.Librdkafka(_logger, level, message.Name, message.Facility, message.Message);
    }

    private void LogClientError(string clientId, Error error)
    {
        // librdkafka reports transient connection errors here and recovers by itself; only fatal
        // errors leave a client unusable.
        if (error.IsFatal)
        {
            Log.KafkaFatal(_logger, clientId, error.Code, error.Reason);
        }
        else
        {
            Log.KafkaError(_logger, clientId, error.Code, error.Reason);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 100, Message = "librdkafka {Client} {Facility}: {Text}")]
        public static partial void Librdkafka(ILogger logger, LogLevel level, string client, string facility, string text);

        [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Kafka client {Client}: {Code} {Reason}")]
        public static partial void KafkaError(ILogger logger, string client, ErrorCode code, string reason);

        [LoggerMessage(EventId = 102, Level = LogLevel.Critical, Message = "Kafka client {Client} failed fatally: {Code} {Reason}")]
        public static partial void KafkaFatal(ILogger logger, string client, ErrorCode code, string reason);
    }
}
