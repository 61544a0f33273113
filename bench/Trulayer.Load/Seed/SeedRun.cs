using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Spectre.Console;
using Trulayer.Otlp.Pipeline;
using Trulayer.ServiceDefaults.Kafka;
using Trulayer.Workload.Load;

namespace Trulayer.Load.Seed;

/// <summary>What to seed and where.</summary>
internal sealed record SeedSettings(long Spans, double Days, Guid ProjectId, string Kafka, string Topic, string Group, int Seed, long MaxLagRecords);

/// <summary>
/// Writes <see cref="SeedSettings.Spans"/> spans of <see cref="SeedTraces"/> spread over the last
/// <see cref="SeedSettings.Days"/> days through the real pipeline: one SpanBatch record per trace, keyed
/// <c>project:trace</c>, produced to the spans topic exactly as ingest produces them (acks=all, idempotent),
/// and stored by the running processor(s). It keeps the processor's backlog under
/// <see cref="SeedSettings.MaxLagRecords"/> so the dev broker's retention never drops a record, and waits
/// until everything is stored.
/// </summary>
internal sealed class SeedRun(SeedSettings settings, IAnsiConsole console)
{
    private long _failed;
    private string? _firstFailure;

    public async Task<(long Spans, long Traces, TimeSpan Took)> RunAsync(CancellationToken cancellationToken)
    {
        var factory = new KafkaClientFactory(Options.Create(new KafkaOptions { BootstrapServers = settings.Kafka }), NullLoggerFactory.Instance);
        using var producer = factory.CreateProducer<byte[]?, byte[]?>("trulayer-seed");
        using var lag = new PipelineLag(settings.Kafka, settings.Topic, settings.Group);
        var to = DateTimeOffset.UtcNow;
        var traces = new SeedTraces(settings.Seed, to.AddDays(-settings.Days), to);
        var project = settings.ProjectId.ToString();
        long spans = 0, records = 0;
        var started = Stopwatch.GetTimestamp();
        var lastReport = started;
        long nextCheck = 0;
        while (spans < settings.Spans && !cancellationToken.IsCancellationRequested)
        {
            foreach (var (traceId, resourceSpans) in traces.NextSession())
            {
                var batch = new SpanBatch
                {
                    ProjectId = project,
                    TraceId = traceId,
                    ReceivedTimeUnixNano = (ulong)(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000),
                    ResourceSpans = { resourceSpans },
                };
                var message = new Message<byte[]?, byte[]?>
                {
                    Key = Encoding.UTF8.GetBytes($"{project}:{Convert.ToHexStringLower(traceId.Span)}"),
                    Value = batch.ToByteArray(),
                };
                Produce(producer, message);
                spans += resourceSpans.ScopeSpans.Sum(s => s.Spans.Count);
                records++;
            }

            if (records >= nextCheck)
            {
                nextCheck = records + 2000;
                producer.Flush(cancellationToken);
                while ((await lag.ReadAsync(TimeSpan.FromSeconds(5)))?.TotalRecords is { } backlog && backlog > settings.MaxLagRecords)
                {
                    await Task.Delay(200, cancellationToken);
                }

                if (Stopwatch.GetElapsedTime(lastReport) > TimeSpan.FromSeconds(15))
                {
                    lastReport = Stopwatch.GetTimestamp();
                    var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                    console.MarkupLine($"[grey]{spans:N0} spans in {records:N0} records, {seconds:0} s, {spans / seconds:N0} spans/s[/]");
                }
            }
        }

        producer.Flush(cancellationToken);
        console.MarkupLine("[grey]produced; waiting for the processor to store everything[/]");
        if (!await lag.WaitDrainedAsync(TimeSpan.FromMinutes(30), cancellationToken: cancellationToken))
        {
            throw new TimeoutException("the processor did not store everything within 30 minutes");
        }

        if (Interlocked.Read(ref _failed) is > 0 and var failed)
        {
            throw new InvalidOperationException($"Kafka refused {failed} records (the first: {_firstFailure}); everything else is stored");
        }

        return (spans, records, Stopwatch.GetElapsedTime(started));
    }

    private void Produce(IProducer<byte[]?, byte[]?> producer, Message<byte[]?, byte[]?> message)
    {
        while (true)
        {
            try
            {
                producer.Produce(settings.Topic, message, report =>
                {
                    if (report.Error.IsError)
                    {
                        Interlocked.Increment(ref _failed);
                        Interlocked.CompareExchange(ref _firstFailure, $"{report.Error.Code}: {report.Error.Reason}", null);
                    }
                });
                return;
            }
            catch (ProduceException<byte[]?, byte[]?> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                producer.Poll(TimeSpan.FromMilliseconds(100));
            }
        }
    }
}
