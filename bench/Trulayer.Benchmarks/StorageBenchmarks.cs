using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Confluent.Kafka;
using Google.Protobuf;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Export.Output;
using Trulayer.Export.Storage;

namespace Trulayer.Benchmarks;

/// <summary>
/// Bytes on disk per span. Each iteration stores <see cref="Spans"/> spans of a standard batch through
/// the real processor pipeline (Kafka to PostgreSQL, as <see cref="ProcessorBenchmarks"/>) into an empty
/// telemetry schema on native day partitions, then measures the spans' partitions (heap, TOAST with its
/// index, indexes; <c>pg_total_relation_size</c>) and, apart, the traces, resources and scopes tables;
/// and exports the same spans with Export.Api's own reader and protobuf writer, checking every span
/// comes out byte for byte as sent: the OTLP size of a span is its share of those TracesData pages.
/// The time column is how long storing took.
/// <code>dotnet run -c Release --project bench/Trulayer.Benchmarks -- --filter '*StorageBenchmarks*'</code>
/// </summary>
[Config(typeof(Config))]
public class StorageBenchmarks
{
    public const int Spans = 50_000;
    private const int Partitions = 64;

    private static readonly ConcurrentDictionary<string, Sizes> Measured = new();

    private ProcessorRig? _rig;
    private Guid _project;
    private DateTimeOffset _start;
    private Dictionary<(ByteString TraceId, ByteString SpanId), ByteString> _sent = [];
    private List<Message<byte[]?, byte[]?>> _records = [];
    private ProcessorRig.PipelineRun? _run;

    [Params("GenAi", "Lean")]
    public string Batch { get; set; } = "GenAi";

    [GlobalSetup]
    public void GlobalSetup()
    {
        _rig = ProcessorRig.Start("storage");
        _project = Guid.NewGuid();
        _start = DateTimeOffset.UtcNow.AddMinutes(-10);
        var requests = ProcessorRig.Requests(Batch, Spans, _start).ToList();
        _sent = requests.SelectMany(r => r.ResourceSpans).SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans)
            .ToDictionary(s => (s.TraceId, s.SpanId), s => s.ToByteString());
        _records = ProcessorRig.Records(requests, _project);
    }

    [IterationSetup]
    public void IterationSetup()
    {
        _rig!.Truncate();
        _run = _rig.Prepare(_records, Partitions);
    }

    /// <summary>Stores the spans through the processor's pipeline, until every offset is committed.</summary>
    [Benchmark]
    public void Store() => _run!.Run();

    [IterationCleanup]
    public void IterationCleanup()
    {
        _run!.Dispose();
        var stored = _rig!.Count("SELECT count(*) FROM telemetry.spans");
        if (stored != Spans)
        {
            throw new InvalidOperationException($"the processor stored {stored} spans, {Spans} expected");
        }

        Measured[Batch] = Measure();
    }

    [GlobalCleanup]
    public void GlobalCleanup() => _rig?.Dispose();

    private Sizes Measure()
    {
        using var command = _rig!.DataSource.CreateCommand("""
            WITH part AS (
                SELECT c.oid, c.reltoastrelid FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'telemetry.spans'::regclass)
            SELECT (SELECT sum(pg_relation_size(oid)) FROM part),
                   (SELECT coalesce(sum(pg_total_relation_size(reltoastrelid)), 0) FROM part WHERE reltoastrelid <> 0),
                   (SELECT sum(pg_indexes_size(oid)) FROM part),
                   (SELECT sum(pg_total_relation_size(oid)) FROM part),
                   pg_total_relation_size('telemetry.traces'),
                   pg_total_relation_size('telemetry.resources') + pg_total_relation_size('telemetry.scopes')
            """);
        using var reader = command.ExecuteReader();
        reader.Read();
        long Get(int i) => Convert.ToInt64(reader.GetValue(i), CultureInfo.InvariantCulture);
        return new Sizes(Get(0), Get(1), Get(2), Get(3), Get(4), Get(5), ExportedBytes());
    }

    /// <summary>Exports the window in pages of 10,000 spans as Export.Api does; checks every span against what was sent; returns the bytes.</summary>
    private long ExportedBytes()
    {
        var store = new SpanStore(_rig!.DataSource);
        var from = _start.AddMinutes(-1).ToUnixTimeMilliseconds() * 1_000_000;
        var to = _start.AddMinutes(5).ToUnixTimeMilliseconds() * 1_000_000;
        long bytes = 0, spans = 0;
        Export.Paging.ExportPosition? position = null;
        do
        {
            var page = store.OpenExportPageAsync([_project], from, to, position, 10_000, CancellationToken.None).GetAwaiter().GetResult();
            using var body = new MemoryStream();
            var output = PipeWriter.Create(body, new StreamPipeWriterOptions(leaveOpen: true));
            page.Spans.WriteAsync(new ProtobufSpanPageWriter(output), CancellationToken.None).GetAwaiter().GetResult();
            output.Complete();
            page.Spans.DisposeAsync().AsTask().GetAwaiter().GetResult();
            bytes += body.Length;
            foreach (var span in TracesData.Parser.ParseFrom(body.ToArray()).ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans))
            {
                if (!_sent.TryGetValue((span.TraceId, span.SpanId), out var sent) || !sent.Equals(span.ToByteString()))
                {
                    throw new InvalidOperationException($"span {Convert.ToHexStringLower(span.SpanId.Span)} was not exported as it was sent");
                }

                spans++;
            }

            position = page.Next;
        }
        while (position is not null);

        return spans == Spans ? bytes : throw new InvalidOperationException($"the export returned {spans} spans, {Spans} expected");
    }

    /// <summary>Bytes: the spans' heap, TOAST and indexes and all of it; traces; resources and scopes; the exported OTLP.</summary>
    private sealed record Sizes(long Heap, long Toast, long Indexes, long Total, long Traces, long Dimensions, long Otlp);

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            // In process: the columns read what the iterations measured here.
            AddJob(Job.Default
                .WithToolchain(InProcessEmitToolchain.Instance)
                .WithStrategy(RunStrategy.Monitoring)
                .WithWarmupCount(1)
                .WithIterationCount(3)
                .WithInvocationCount(1)
                .WithUnrollFactor(1));
            AddColumn(
                new SizeColumn("OTLP B/span", "The exported protobuf TracesData per span", s => s.Otlp, 0),
                new SizeColumn("spans B/span", "telemetry.spans partitions per span: heap + TOAST + indexes", s => s.Total, 1),
                new RatioColumn(),
                new SizeColumn("heap B/span", "the partitions' heap per span", s => s.Heap, 3),
                new SizeColumn("TOAST B/span", "their TOAST tables (with TOAST indexes) per span", s => s.Toast, 4),
                new SizeColumn("indexes B/span", "their indexes per span", s => s.Indexes, 5),
                new SizeColumn("traces B/span", "telemetry.traces per span", s => s.Traces, 6),
                new SizeColumn("res+scopes B/span", "telemetry.resources and telemetry.scopes per span", s => s.Dimensions, 7));
            AddColumnProvider(DefaultColumnProviders.Instance);
        }
    }

    private static Sizes? Of(BenchmarkCase benchmarkCase) => Measured.GetValueOrDefault((string)benchmarkCase.Parameters["Batch"]);

    private sealed class SizeColumn(string name, string legend, Func<Sizes, long> select, int priority) : CustomColumn(name, legend, priority)
    {
        public override string GetValue(Summary summary, BenchmarkCase benchmarkCase)
            => Of(benchmarkCase) is { } sizes ? (select(sizes) / (double)Spans).ToString("N0", CultureInfo.InvariantCulture) : "-";
    }

    private sealed class RatioColumn() : CustomColumn("spans / OTLP", "bytes on disk of telemetry.spans over the OTLP size of the same spans", 2)
    {
        public override string GetValue(Summary summary, BenchmarkCase benchmarkCase)
            => Of(benchmarkCase) is { } sizes ? (sizes.Total / (double)sizes.Otlp).ToString("P0", CultureInfo.InvariantCulture) : "-";
    }
}
