using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.AppHost.Run;
using Trulayer.Otlp.Pipeline;
using Trulayer.Processor.Pipeline;
using Trulayer.Processor.Storage;
using Trulayer.ServiceDefaults.Kafka;
using Trulayer.ServiceDefaults.Postgres;
using Trulayer.Workload;

namespace Trulayer.Benchmarks;

/// <summary>
/// Processor.Worker's path from Kafka to PostgreSQL (consume, decode, map, binary COPY, trace upserts,
/// commit, offset commits; the real SpanPipeline) next to the raw binary COPY of exactly the same span
/// rows into the same table of the same database. One operation is one span: the figures are time per
/// span, so rows/s = 1 s / Mean, and the Ratio column is the processor's time per span over raw COPY's
/// (the processor's share of the raw rate is 1 / Ratio).
/// <code>dotnet run -c Release --project bench/Trulayer.Benchmarks -- --filter '*ProcessorBenchmarks*'</code>
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 11)]
[MinColumn, MedianColumn] // on a shared machine the fastest iteration is the least disturbed one
[GcServer(true)] // as Processor.Worker runs (an ASP.NET Core app: Server GC)
public class ProcessorBenchmarks
{
    private const int Spans = 30_000;
    // The dev broker keeps 5 MiB per partition and drops the oldest records beyond that: 30,000 GenAI
    // spans are about 57 MB, so they are spread wide enough that nothing is dropped before it is read.
    private const int Partitions = 32;

    private string _directory = "";
    private PostgresCluster? _cluster;
    private DevKafkaBroker? _broker;
    private Microsoft.Extensions.Hosting.IHost? _host;
    private NpgsqlDataSource? _dataSource;
    private List<Message<byte[]?, byte[]?>> _messages = [];
    private List<SpanRow> _rows = [];
    private string _topic = "";
    private Dictionary<int, long> _highWatermarks = [];
    private SpanPipeline? _pipeline;
    private CancellationTokenSource? _done;

    [Params("GenAi", "Lean")]
    public string Batch { get; set; } = "GenAi";

    /// <summary>Processor:MaxBatchesInFlight (2 by default): how much of the rate the overlapping writers make.</summary>
    [Params(1, 2)]
    public int InFlight { get; set; } = 2;

    [GlobalSetup]
    public void GlobalSetup()
    {
        RemoveStaleClusters();
        _directory = Path.Combine(BenchRoot, $"{Environment.ProcessId}-processor");
        Directory.CreateDirectory(_directory);
        // Durable, as PostgreSQL runs in production: each committed batch waits for its WAL flush.
        _cluster = PostgresCluster.StartAsync(
            new PostgresClusterOptions { DataDirectory = Path.Combine(_directory, "data"), Password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)), Durable = true },
            _ => { }).GetAwaiter().GetResult();
        var cluster = _cluster;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.KillAsync().GetAwaiter().GetResult();
        _cluster.CreateDatabaseIfMissingAsync("trulayer").GetAwaiter().GetResult();
        _broker = DevKafkaBroker.Start();

        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:trulayer"] = _cluster.GetConnectionString("trulayer"),
            ["ConnectionStrings:kafka"] = _broker.BootstrapServers,
            ["Logging:LogLevel:Default"] = "Warning",
            ["Processor:MaxBatchesInFlight"] = InFlight.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        builder.Logging.ClearProviders();
        builder.AddProcessorServices();
        _host = builder.Build();
        _dataSource = _host.Services.GetRequiredService<NpgsqlDataSource>();
        _host.Services.GetRequiredService<SchemaMigrator>()
            .MigrateAsync("telemetry", Migration.FromEmbeddedResources(typeof(SpanStorage).Assembly)).GetAwaiter().GetResult();
        _host.Services.GetRequiredService<SpanStorage>().Initialize();

        var project = Guid.NewGuid();
        _messages = [.. Enumerable.Range(0, Spans / StandardBatch.DefaultSpans)
            .Select(_ => Batch == "GenAi" ? StandardBatch.GenAi() : StandardBatch.Lean())
            .SelectMany(request => ToRecords(project, request))];

        // The rows the processor writes for these records, for the raw COPY.
        var decoder = new SpanRecordDecoder(new DimensionCache(), Trulayer.Otlp.GenAi.GenAiMapper.DefaultMaxTextBytes);
        _rows = [.. _messages.SelectMany(m => decoder.Decode(Consumed(m)).Record!.Spans)];
        if (_rows.Count != Spans)
        {
            throw new InvalidOperationException($"{_rows.Count} rows, {Spans} expected");
        }

        // Create the day partitions once, outside the measurement (both paths write the same days).
        _host.Services.GetRequiredService<SpanStorage>().EnsurePartitions(_rows.Select(r => UnixNanos.Day(r.StartUnixNano)).ToHashSet());
    }

    [IterationSetup(Target = nameof(Processor))]
    public void ProcessorSetup()
    {
        Truncate();
        _topic = "bench.spans." + Guid.NewGuid().ToString("N");
        _broker!.CreateTopic(_topic, Partitions);
        var kafka = _host!.Services.GetRequiredService<KafkaClientFactory>();
        kafka.Options.SpansTopic = _topic;
        kafka.Options.ConsumerGroup = "bench-" + Guid.NewGuid().ToString("N");

        // The consumer is created and assigned (group coordinator found) before the measurement, as in a
        // processor that is already running; the records are produced after that.
        _pipeline = _host.Services.GetRequiredService<SpanPipeline>();
        _pipeline.Start([.. Enumerable.Range(0, Partitions).Select(p => new TopicPartition(_topic, p))]);
        _done = new CancellationTokenSource();
        var committed = new Dictionary<int, long>();
        var done = _done;
        _pipeline.Committed += offsets =>
        {
            foreach (var offset in offsets)
            {
                committed[offset.Partition.Value] = offset.Offset.Value;
            }

            if (_highWatermarks.All(h => committed.GetValueOrDefault(h.Key) >= h.Value))
            {
                done.Cancel();
            }
        };

        using var producer = kafka.CreateProducer<byte[]?, byte[]?>("bench");
        _highWatermarks = [];
        var deliveries = _messages.Select(m => producer.ProduceAsync(_topic, m)).ToArray();
        Task.WaitAll(deliveries);
        foreach (var delivery in deliveries)
        {
            _highWatermarks[delivery.Result.Partition.Value] = Math.Max(_highWatermarks.GetValueOrDefault(delivery.Result.Partition.Value), delivery.Result.Offset.Value + 1);
        }
    }

    /// <summary>Checks that the processor stored every span: a figure for fewer rows would be worthless.</summary>
    [IterationCleanup(Target = nameof(Processor))]
    public void ProcessorCleanup()
    {
        _pipeline!.Dispose();
        using var command = _dataSource!.CreateCommand("SELECT count(*) FROM telemetry.spans");
        var stored = (long)command.ExecuteScalar()!;
        if (stored != Spans)
        {
            throw new InvalidOperationException($"the processor stored {stored} spans, {Spans} expected");
        }
    }

    [IterationSetup(Target = nameof(RawCopy))]
    public void RawCopySetup() => Truncate();

    /// <summary>Kafka to PostgreSQL through the processor's own pipeline, until every offset is committed.</summary>
    [Benchmark(OperationsPerInvoke = Spans)]
    public void Processor()
    {
        _pipeline!.Run(_done!.Token);
        _done.Dispose();
    }

    /// <summary>The same span rows, prepared in memory, in one binary COPY and one transaction.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Spans)]
    public void RawCopy()
    {
        using var connection = _dataSource!.OpenConnection();
        using var transaction = connection.BeginTransaction();
        SpanCopy.Copy(connection, "telemetry.spans", _rows);
        transaction.Commit();
    }

    [GlobalCleanup]
    public void GlobalCleanup()
    {
        _host?.Dispose();
        _broker?.Dispose();
        _cluster?.KillAsync().GetAwaiter().GetResult();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private const string BenchRoot = "/var/tmp/trulayer-bench";

    /// <summary>Stops and removes the clusters of benchmark processes that died before their cleanup.</summary>
    private static void RemoveStaleClusters()
    {
        if (!Directory.Exists(BenchRoot))
        {
            return;
        }

        foreach (var directory in Directory.GetDirectories(BenchRoot, "*-processor"))
        {
            var name = Path.GetFileName(directory);
            if (!int.TryParse(name[..name.IndexOf('-', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture, out var pid)
                || Directory.Exists($"/proc/{pid}"))
            {
                continue;
            }

            var pidFile = Path.Combine(directory, "data", "postmaster.pid");
            if (File.Exists(pidFile) && int.TryParse(File.ReadLines(pidFile).FirstOrDefault(), out var postmaster) && Directory.Exists($"/proc/{postmaster}"))
            {
                // SIGQUIT: PostgreSQL's immediate shutdown.
                using var kill = System.Diagnostics.Process.Start("kill", ["-QUIT", postmaster.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                kill.WaitForExit();
                Thread.Sleep(500);
            }

            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static ConsumeResult<byte[]?, byte[]?> Consumed(Message<byte[]?, byte[]?> message)
        => new() { Message = message, TopicPartitionOffset = new TopicPartitionOffset("bench", 0, 0) };

    private void Truncate()
    {
        using var command = _dataSource!.CreateCommand("TRUNCATE telemetry.spans, telemetry.traces, telemetry.resources, telemetry.scopes; CHECKPOINT");
        command.ExecuteNonQuery();
    }

    /// <summary>The records ingest produces for a request: one SpanBatch per trace, keyed project:trace.</summary>
    private static IEnumerable<Message<byte[]?, byte[]?>> ToRecords(Guid project, OpenTelemetry.Proto.Collector.Trace.V1.ExportTraceServiceRequest request)
    {
        var batches = new Dictionary<ByteString, SpanBatch>();
        foreach (var resourceSpans in request.ResourceSpans)
        {
            foreach (var scopeSpans in resourceSpans.ScopeSpans)
            {
                foreach (var span in scopeSpans.Spans)
                {
                    if (!batches.TryGetValue(span.TraceId, out var batch))
                    {
                        batch = new SpanBatch { ProjectId = project.ToString(), TraceId = span.TraceId, ReceivedTimeUnixNano = (ulong)(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000) };
                        batch.ResourceSpans.Add(new ResourceSpans { Resource = resourceSpans.Resource, SchemaUrl = resourceSpans.SchemaUrl });
                        batches.Add(span.TraceId, batch);
                    }

                    var scope = batch.ResourceSpans[0].ScopeSpans.FirstOrDefault(s => s.Scope == scopeSpans.Scope);
                    if (scope is null)
                    {
                        scope = new ScopeSpans { Scope = scopeSpans.Scope, SchemaUrl = scopeSpans.SchemaUrl };
                        batch.ResourceSpans[0].ScopeSpans.Add(scope);
                    }

                    scope.Spans.Add(span);
                }
            }
        }

        return batches.Values.Select(b => new Message<byte[]?, byte[]?>
        {
            Key = Encoding.UTF8.GetBytes($"{b.ProjectId}:{Convert.ToHexStringLower(b.TraceId.Span)}"),
            Value = b.ToByteArray(),
        });
    }
}
