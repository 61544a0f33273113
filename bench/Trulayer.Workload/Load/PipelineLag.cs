using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.Workload.Load;

/// <summary>
/// The processor group's backlog on the spans topic, read from outside with ServiceDefaults'
/// <see cref="ConsumerLagReader"/>: for the live view, and to wait until the pipeline has stored
/// everything Kafka holds before counting.
/// </summary>
public sealed class PipelineLag : IDisposable
{
    private readonly ConsumerLagReader _reader;

    public PipelineLag(string bootstrapServers, string topic = KafkaTopics.Spans, string group = "trulayer-processor")
    {
        var options = new KafkaOptions { BootstrapServers = bootstrapServers, SpansTopic = topic, ConsumerGroup = group };
        _reader = new ConsumerLagReader(new KafkaClientFactory(Options.Create(options), NullLoggerFactory.Instance));
    }

    /// <summary>Records produced but not yet stored and committed; null when Kafka does not answer.</summary>
    public async Task<ConsumerLag?> ReadAsync(TimeSpan timeout)
    {
        try
        {
            return await Task.Run(() => _reader.Read(timeout));
        }
        catch (KafkaException)
        {
            return null;
        }
    }

    /// <summary>
    /// Waits until the group has committed everything the topic holds (lag 0), reading every half second;
    /// true when it did within <paramref name="timeout"/>. <paramref name="onRead"/> sees each reading.
    /// </summary>
    public async Task<bool> WaitDrainedAsync(TimeSpan timeout, Action<ConsumerLag?>? onRead = null, CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var lag = await ReadAsync(TimeSpan.FromSeconds(5));
            onRead?.Invoke(lag);
            if (lag is { TotalRecords: 0 })
            {
                return true;
            }

            if (Stopwatch.GetElapsedTime(started) > timeout)
            {
                return false;
            }

            await Task.Delay(500, cancellationToken);
        }
    }

    public void Dispose() => _reader.Dispose();
}
