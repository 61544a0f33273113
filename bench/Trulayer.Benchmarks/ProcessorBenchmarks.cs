using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Trulayer.Processor.Storage;

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

    private ProcessorRig? _rig;
    private List<Message<byte[]?, byte[]?>> _messages = [];
    private List<SpanRow> _rows = [];
    private ProcessorRig.PipelineRun? _run;

    [Params("GenAi", "Lean")]
    public string Batch { get; set; } = "GenAi";

    /// <summary>Processor:MaxBatchesInFlight (2 by default): how much of the rate the overlapping writers make.</summary>
    [Params(1, 2)]
    public int InFlight { get; set; } = 2;

    [GlobalSetup]
    public void GlobalSetup()
    {
        _rig = ProcessorRig.Start("processor", new Dictionary<string, string?>
        {
            ["Processor:MaxBatchesInFlight"] = InFlight.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        _messages = ProcessorRig.Records(ProcessorRig.Requests(Batch, Spans), Guid.NewGuid());

        // The rows the processor writes for these records, for the raw COPY.
        _rows = ProcessorRig.Rows(_messages);
        if (_rows.Count != Spans)
        {
            throw new InvalidOperationException($"{_rows.Count} rows, {Spans} expected");
        }

        // Create the day partitions once, outside the measurement (both paths write the same days).
        _rig.Services.GetRequiredService<SpanStorage>().EnsurePartitions(_rows.Select(r => UnixNanos.Day(r.StartUnixNano)).ToHashSet());
    }

    /// <summary>The consumer is created and assigned (group coordinator found) before the measurement; the records are produced after that.</summary>
    [IterationSetup(Target = nameof(Processor))]
    public void ProcessorSetup()
    {
        _rig!.Truncate();
        _run = _rig.Prepare(_messages, Partitions);
    }

    /// <summary>Checks that the processor stored every span: a figure for fewer rows would be worthless.</summary>
    [IterationCleanup(Target = nameof(Processor))]
    public void ProcessorCleanup()
    {
        _run!.Dispose();
        var stored = _rig!.Count("SELECT count(*) FROM telemetry.spans");
        if (stored != Spans)
        {
            throw new InvalidOperationException($"the processor stored {stored} spans, {Spans} expected");
        }
    }

    [IterationSetup(Target = nameof(RawCopy))]
    public void RawCopySetup() => _rig!.Truncate();

    /// <summary>Kafka to PostgreSQL through the processor's own pipeline, until every offset is committed.</summary>
    [Benchmark(OperationsPerInvoke = Spans)]
    public void Processor() => _run!.Run();

    /// <summary>The same span rows, prepared in memory, in one binary COPY and one transaction.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Spans)]
    public void RawCopy() => _rig!.RawCopy(_rows);

    [GlobalCleanup]
    public void GlobalCleanup() => _rig?.Dispose();
}
