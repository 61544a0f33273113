using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry.Proto.Collector.Trace.V1;
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
/// Processor.Worker's services on a private durable PostgreSQL 15 cluster and the dev broker, in this
/// process, with the telemetry schema migrated: what the processor and storage benchmarks run on.
/// </summary>
internal sealed class ProcessorRig : IDisposable
{
    private const string BenchRoot = "/var/tmp/trulayer-bench";

    private readonly string _directory;
    private readonly PostgresCluster _cluster;
    private readonly DevKafkaBroker _broker;
    private readonly IHost _host;

    private ProcessorRig(string directory, PostgresCluster cluster, DevKafkaBroker broker, IHost host)
    {
        _directory = directory;
        _cluster = cluster;
        _broker = broker;
        _host = host;
    }

    public IServiceProvider Services => _host.Services;

    public NpgsqlDataSource DataSource => Services.GetRequiredService<NpgsqlDataSource>();

    public string ConnectionString => _cluster.GetConnectionString("trulayer");

    /// <param name="name">Names the cluster's folder.</param>
    /// <param name="settings">Processor settings (<c>Processor:MaxBatchesInFlight</c>, ...).</param>
    public static ProcessorRig Start(string name, IReadOnlyDictionary<string, string?>? settings = null)
    {
        RemoveStaleClusters();
        var directory = Path.Combine(BenchRoot, $"{Environment.ProcessId}-{name}");
        Directory.CreateDirectory(directory);
        // Durable, as PostgreSQL runs in production: each committed batch waits for its WAL flush.
        var cluster = PostgresCluster.StartAsync(
            new PostgresClusterOptions { DataDirectory = Path.Combine(directory, "data"), Password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)), Durable = true },
            _ => { }).GetAwaiter().GetResult();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.KillAsync().GetAwaiter().GetResult();
        cluster.CreateDatabaseIfMissingAsync("trulayer").GetAwaiter().GetResult();
        var broker = DevKafkaBroker.Start();

        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:trulayer"] = cluster.GetConnectionString("trulayer"),
            ["ConnectionStrings:kafka"] = broker.BootstrapServers,
            ["Logging:LogLevel:Default"] = "Warning",
        });
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        builder.Logging.ClearProviders();
        builder.AddProcessorServices();
        var host = builder.Build();
        host.Services.GetRequiredService<SchemaMigrator>()
            .MigrateAsync("telemetry", Migration.FromEmbeddedResources(typeof(SpanStorage).Assembly)).GetAwaiter().GetResult();
        host.Services.GetRequiredService<SpanStorage>().Initialize();
        return new ProcessorRig(directory, cluster, broker, host);
    }

    /// <summary>The records ingest produces for <paramref name="requests"/>: one SpanBatch per trace and request.</summary>
    public static List<Message<byte[]?, byte[]?>> Records(IEnumerable<ExportTraceServiceRequest> requests, Guid project)
        => [.. requests.SelectMany(request => ToRecords(project, request))];

    /// <summary><paramref name="spans"/> spans of the standard GenAI or lean batch, in requests of 1,000 spans 20 ms apart.</summary>
    public static IEnumerable<ExportTraceServiceRequest> Requests(string batch, int spans, DateTimeOffset? start = null)
    {
        var first = start ?? DateTimeOffset.UtcNow.AddMinutes(-1);
        return Enumerable.Range(0, spans / StandardBatch.DefaultSpans).Select(i => batch switch
        {
            "GenAi" => StandardBatch.GenAi(start: first.AddMilliseconds(20 * i)),
            "Lean" => StandardBatch.Lean(start: first.AddMilliseconds(20 * i)),
            _ => throw new ArgumentOutOfRangeException(nameof(batch), batch, "GenAi or Lean"),
        });
    }

    /// <summary>The rows the processor's own decoder makes of <paramref name="records"/>.</summary>
    public static List<SpanRow> Rows(IEnumerable<Message<byte[]?, byte[]?>> records)
    {
        var decoder = new SpanRecordDecoder(new DimensionCache(), Trulayer.Otlp.GenAi.GenAiMapper.DefaultMaxTextBytes);
        return [.. records.SelectMany(m => decoder.Decode(new ConsumeResult<byte[]?, byte[]?> { Message = m, TopicPartitionOffset = new TopicPartitionOffset("bench", 0, 0) }).Record!.Spans)];
    }

    /// <summary>
    /// <paramref name="count"/> log records as ingest produces them: LogBatch records of 10 records per
    /// trace, as an instrumented LLM application writes them (a GenAI event per record: prompt, choice,
    /// operation details, with a body of about 300 bytes, five attributes, trace and span ids).
    /// </summary>
    public static List<Message<byte[]?, byte[]?>> LogRecords(int count, Guid project, DateTimeOffset? start = null)
    {
        var first = start ?? DateTimeOffset.UtcNow.AddMinutes(-1);
        string[] events = ["gen_ai.system.message", "gen_ai.user.message", "gen_ai.choice", "gen_ai.client.inference.operation.details"];
        var text = string.Concat(Enumerable.Repeat("The quick brown fox answers the user's question about the weather. ", 4));
        var messages = new List<Message<byte[]?, byte[]?>>();
        for (var trace = 0; trace < count / 10; trace++)
        {
            var traceId = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(16));
            var scope = new OpenTelemetry.Proto.Logs.V1.ScopeLogs { Scope = new OpenTelemetry.Proto.Common.V1.InstrumentationScope { Name = "opentelemetry.instrumentation.openai", Version = "0.40.0" } };
            for (var i = 0; i < 10; i++)
            {
                var nanos = (ulong)((first.AddMilliseconds(trace) - DateTimeOffset.UnixEpoch).Ticks * 100) + (ulong)i;
                var record = new OpenTelemetry.Proto.Logs.V1.LogRecord
                {
                    TimeUnixNano = nanos,
                    ObservedTimeUnixNano = nanos + 1000,
                    SeverityNumber = OpenTelemetry.Proto.Logs.V1.SeverityNumber.Info,
                    EventName = events[i % events.Length],
                    TraceId = traceId,
                    SpanId = ByteString.CopyFrom(RandomNumberGenerator.GetBytes(8)),
                    Body = new OpenTelemetry.Proto.Common.V1.AnyValue
                    {
                        KvlistValue = new OpenTelemetry.Proto.Common.V1.KeyValueList
                        {
                            Values =
                            {
                                new OpenTelemetry.Proto.Common.V1.KeyValue { Key = "role", Value = new() { StringValue = "assistant" } },
                                new OpenTelemetry.Proto.Common.V1.KeyValue { Key = "content", Value = new() { StringValue = $"{trace}.{i} {text}" } },
                            },
                        },
                    },
                };
                foreach (var (key, value) in new[] { ("gen_ai.system", "openai"), ("gen_ai.request.model", "gpt-4o-mini"), ("server.address", "api.openai.com"), ("user.id", $"user-{trace % 100}"), ("session.id", $"session-{trace % 1000}") })
                {
                    record.Attributes.Add(new OpenTelemetry.Proto.Common.V1.KeyValue { Key = key, Value = new() { StringValue = value } });
                }

                scope.LogRecords.Add(record);
            }

            var batch = new LogBatch { ProjectId = project.ToString(), TraceId = traceId, ReceivedTimeUnixNano = (ulong)(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000) };
            batch.ResourceLogs.Add(new OpenTelemetry.Proto.Logs.V1.ResourceLogs
            {
                Resource = new OpenTelemetry.Proto.Resource.V1.Resource { Attributes = { new OpenTelemetry.Proto.Common.V1.KeyValue { Key = "service.name", Value = new() { StringValue = "chat-api" } } } },
                ScopeLogs = { scope },
            });
            messages.Add(new Message<byte[]?, byte[]?>
            {
                Key = Encoding.UTF8.GetBytes($"{project}:{Convert.ToHexStringLower(traceId.Span)}"),
                Value = batch.ToByteArray(),
            });
        }

        return messages;
    }

    /// <summary>The log rows the processor's own decoder makes of <paramref name="records"/>.</summary>
    public static List<LogRow> LogRows(IEnumerable<Message<byte[]?, byte[]?>> records)
    {
        var decoder = new LogRecordDecoder(new DimensionCache());
        return [.. records.SelectMany(m => decoder.Decode(new ConsumeResult<byte[]?, byte[]?> { Message = m, TopicPartitionOffset = new TopicPartitionOffset("bench", 0, 0) }).Record!.Logs)];
    }

    /// <summary>Empties the telemetry tables.</summary>
    public void Truncate()
    {
        using var command = DataSource.CreateCommand("TRUNCATE telemetry.spans, telemetry.traces, telemetry.logs, telemetry.resources, telemetry.scopes; CHECKPOINT");
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// A fresh topic of <paramref name="partitions"/> partitions holding <paramref name="records"/>, and the
    /// real <see cref="SpanPipeline"/> created and assigned to it (as in a processor that is already
    /// running); <see cref="PipelineRun.Run"/> stores them.
    /// </summary>
    public PipelineRun Prepare(IReadOnlyList<Message<byte[]?, byte[]?>> records, int partitions)
        => Prepare<SpanPipeline, DecodedRecord>(records, partitions, "spans", (options, topic) => options.SpansTopic = topic);

    /// <summary>The same for log records: the real <see cref="LogPipeline"/> on a fresh logs topic.</summary>
    public PipelineRun PrepareLogs(IReadOnlyList<Message<byte[]?, byte[]?>> records, int partitions)
        => Prepare<LogPipeline, DecodedLogRecord>(records, partitions, "logs", (options, topic) => options.LogsTopic = topic);

    private PipelineRun Prepare<TPipeline, TRecord>(IReadOnlyList<Message<byte[]?, byte[]?>> records, int partitions, string signal, Action<KafkaOptions, string> useTopic)
        where TPipeline : RecordPipeline<TRecord>
        where TRecord : IDecodedRecord
    {
        var topic = $"bench.{signal}." + Guid.NewGuid().ToString("N");
        _broker.CreateTopic(topic, partitions);
        var kafka = Services.GetRequiredService<KafkaClientFactory>();
        useTopic(kafka.Options, topic);
        kafka.Options.ConsumerGroup = "bench-" + Guid.NewGuid().ToString("N");

        var pipeline = Services.GetRequiredService<TPipeline>();
        pipeline.Start([.. Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, p))]);
        var run = PipelineRun.Of(pipeline);

        using var producer = kafka.CreateProducer<byte[]?, byte[]?>("bench");
        var deliveries = records.Select(m => producer.ProduceAsync(topic, m)).ToArray();
        Task.WaitAll(deliveries);
        foreach (var delivery in deliveries)
        {
            var partition = delivery.Result.Partition.Value;
            run.HighWatermarks[partition] = Math.Max(run.HighWatermarks.GetValueOrDefault(partition), delivery.Result.Offset.Value + 1);
        }

        return run;
    }

    /// <summary>Stores <paramref name="records"/> through the real pipeline, start to finish.</summary>
    public void Store(IReadOnlyList<Message<byte[]?, byte[]?>> records, int partitions)
    {
        using var run = Prepare(records, partitions);
        run.Run();
    }

    /// <summary>The baseline of the processor benchmarks: <paramref name="rows"/> in one binary COPY into telemetry.spans and one transaction.</summary>
    public void RawCopy(IReadOnlyList<SpanRow> rows)
    {
        using var connection = DataSource.OpenConnection();
        using var transaction = connection.BeginTransaction();
        SpanCopy.Copy(connection, "telemetry.spans", rows);
        transaction.Commit();
    }

    public void Execute(string sql)
    {
        using var command = DataSource.CreateCommand(sql);
        command.ExecuteNonQuery();
    }

    public long Count(string sql)
    {
        using var command = DataSource.CreateCommand(sql);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        _host.Dispose();
        _broker.Dispose();
        _cluster.KillAsync().GetAwaiter().GetResult();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Stops and removes the clusters of benchmark processes that died before their cleanup.</summary>
    private static void RemoveStaleClusters()
    {
        if (!Directory.Exists(BenchRoot))
        {
            return;
        }

        foreach (var directory in Directory.GetDirectories(BenchRoot))
        {
            var name = Path.GetFileName(directory);
            var dash = name.IndexOf('-', StringComparison.Ordinal);
            if (dash <= 0 || !int.TryParse(name[..dash], System.Globalization.CultureInfo.InvariantCulture, out var pid)
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

    /// <summary>The records ingest produces for a request: one SpanBatch per trace, keyed project:trace.</summary>
    private static IEnumerable<Message<byte[]?, byte[]?>> ToRecords(Guid project, ExportTraceServiceRequest request)
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

    /// <summary>A pipeline ready to store what was produced; <see cref="Run"/> returns once every offset is committed.</summary>
    internal sealed class PipelineRun : IDisposable
    {
        private readonly Action<CancellationToken> _run;
        private readonly IDisposable _pipeline;
        private readonly CancellationTokenSource _done = new();
        private readonly Dictionary<int, long> _committed = [];

        private PipelineRun(Action<CancellationToken> run, IDisposable pipeline)
        {
            _run = run;
            _pipeline = pipeline;
        }

        public static PipelineRun Of<TRecord>(RecordPipeline<TRecord> pipeline)
            where TRecord : IDecodedRecord
        {
            var run = new PipelineRun(pipeline.Run, pipeline);
            pipeline.Committed += run.OnCommitted;
            return run;
        }

        public Dictionary<int, long> HighWatermarks { get; } = [];

        public void Run() => _run(_done.Token);

        public void Dispose()
        {
            _pipeline.Dispose();
            _done.Dispose();
        }

        private void OnCommitted(IReadOnlyList<TopicPartitionOffset> offsets)
        {
            foreach (var offset in offsets)
            {
                _committed[offset.Partition.Value] = offset.Offset.Value;
            }

            if (HighWatermarks.All(h => _committed.GetValueOrDefault(h.Key) >= h.Value))
            {
                _done.Cancel();
            }
        }
    }
}
