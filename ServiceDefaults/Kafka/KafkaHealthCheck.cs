using Confluent.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Trulayer.ServiceDefaults.Kafka;

/// <summary>Healthy when the cluster answers a metadata request for the spans topic.</summary>
internal sealed class KafkaHealthCheck(KafkaClientFactory factory) : IHealthCheck, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);
    private readonly Lazy<IAdminClient> _admin = new(() => factory.CreateAdminClient("health"));

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var topic = factory.Options.SpansTopic;
        try
        {
            // GetMetadata blocks its thread until the broker answers or the timeout passes. It asks for all
            // topics: a request naming the topic could make a broker with auto-creation create it.
            var metadata = await Task.Run(() => _admin.Value.GetMetadata(Timeout), cancellationToken);
            var topicMetadata = metadata.Topics.FirstOrDefault(t => t.Topic == topic);
            if (topicMetadata is null || topicMetadata.Error.IsError)
            {
                return HealthCheckResult.Unhealthy(
                    $"Kafka at {factory.Options.BootstrapServers} answers, but topic {topic} is not available: {topicMetadata?.Error.Reason ?? "missing"}");
            }

            return HealthCheckResult.Healthy($"{metadata.Brokers.Count} broker(s), {topic} has {topicMetadata.Partitions.Count} partitions");
        }
        catch (KafkaException ex)
        {
            return HealthCheckResult.Unhealthy($"Kafka at {factory.Options.BootstrapServers} is unreachable: {ex.Error.Reason}");
        }
    }

    public void Dispose()
    {
        if (_admin.IsValueCreated)
        {
            _admin.Value.Dispose();
        }
    }
}
