using Microsoft.Extensions.Options;

namespace Trulayer.ServiceDefaults.Kafka;

/// <summary>
/// The "Kafka" configuration section. The bootstrap servers come from <c>ConnectionStrings:kafka</c>
/// (Aspire's convention) and are copied here when the section does not set them.
/// </summary>
public sealed class KafkaOptions
{
    public const string SectionName = "Kafka";
    public const string ConnectionStringName = "kafka";

    /// <summary>host:port[,host:port...]; bound from ConnectionStrings:kafka.</summary>
    public string BootstrapServers { get; set; } = "";

    /// <summary>The topic ingest produces to and the processor consumes.</summary>
    public string SpansTopic { get; set; } = KafkaTopics.Spans;

    /// <summary>Where the processor sends records it cannot store, with the reason in headers.</summary>
    public string DeadLetterTopic { get; set; } = KafkaTopics.DeadLetter;

    /// <summary>The topic ingest produces OTLP log records to (LogBatch records) and the processor consumes.</summary>
    public string LogsTopic { get; set; } = KafkaTopics.Logs;

    /// <summary>Where the processor sends log records it cannot store, with the reason in headers.</summary>
    public string LogsDeadLetterTopic { get; set; } = KafkaTopics.LogsDeadLetter;

    /// <summary>The processor's consumer group; ingest and the AppHost read its lag.</summary>
    public string ConsumerGroup { get; set; } = "trulayer-processor";

    /// <summary>How long a produce may wait for the broker's acknowledgement before ingest answers 503.</summary>
    public TimeSpan ProduceTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Extra librdkafka properties for producers (e.g. "linger.ms"), applied last.</summary>
    public Dictionary<string, string> Producer { get; set; } = [];

    /// <summary>Extra librdkafka properties for consumers, applied last.</summary>
    public Dictionary<string, string> Consumer { get; set; } = [];
}

/// <summary>The topics the pipeline uses, by default.</summary>
public static class KafkaTopics
{
    public const string Spans = "otlp.spans.v1";
    public const string DeadLetter = "otlp.spans.dlq.v1";
    public const string Logs = "otlp.logs.v1";
    public const string LogsDeadLetter = "otlp.logs.dlq.v1";

    /// <summary>
    /// The dev broker keeps up to 5 MiB of every partition in the AppHost's memory, consumed or not: 48
    /// partitions hold at most 240 MiB (README, "Performance: local footprint", says why 48).
    /// </summary>
    public const int DevSpansPartitions = 48;
    public const int DevDeadLetterPartitions = 4;

    /// <summary>
    /// The logs topic and its dead letters on the dev broker: 8 and 2 partitions, at most 50 MiB more of
    /// the AppHost's memory, which the local footprint's budget holds.
    /// </summary>
    public const int DevLogsPartitions = 8;
    public const int DevLogsDeadLetterPartitions = 2;
}

internal sealed class KafkaOptionsValidator : IValidateOptions<KafkaOptions>
{
    public ValidateOptionsResult Validate(string? name, KafkaOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.BootstrapServers))
        {
            failures.Add("ConnectionStrings:kafka is missing: set it to the Kafka bootstrap servers (host:port), " +
                         "e.g. ConnectionStrings__kafka=127.0.0.1:9092.");
        }

        if (string.IsNullOrWhiteSpace(options.SpansTopic))
        {
            failures.Add("Kafka:SpansTopic must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(options.DeadLetterTopic))
        {
            failures.Add("Kafka:DeadLetterTopic must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(options.LogsTopic))
        {
            failures.Add("Kafka:LogsTopic must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(options.LogsDeadLetterTopic))
        {
            failures.Add("Kafka:LogsDeadLetterTopic must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(options.ConsumerGroup))
        {
            failures.Add("Kafka:ConsumerGroup must not be empty.");
        }

        if (options.ProduceTimeout <= TimeSpan.Zero)
        {
            failures.Add($"Kafka:ProduceTimeout must be positive (got {options.ProduceTimeout}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
