using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Trulayer.Processor.Storage;

namespace Trulayer.Benchmarks;

/// <summary>
/// The logs case of <see cref="ProcessorBenchmarks"/>: Processor.Worker's path from otlp.logs.v1 to
/// telemetry.logs (consume, decode, identity hash, binary COPY, commit, offset commits; the real
/// LogPipeline) next to the raw binary COPY of exactly the same log rows into the same table. One
/// operation is one log record; the processor's share of the raw rate is 1 / Ratio.
/// <code>dotnet run -c Release --project bench/Trulayer.Benchmarks -- --filter '*LogsProcessorBenchmarks*'</code>
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 11)]
[MinColumn, MedianColumn]
[GcServer(true)]
public class LogsProcessorBenchmarks
{
    private const int Records = 30_000;
    private const int Partitions = 16;

    private ProcessorRig? _rig;
    private List<Message<byte[]?, byte[]?>> _messages = [];
    private List<LogRow> _rows = [];
    private ProcessorRig.PipelineRun? _run;

    /// <summary>Whether the body's trigram index (q= search; migration 0004, where pg_trgm is available) is there: what it costs per row.</summary>
    [Params(true, false)]
    public bool BodyIndex { get; set; } = true;

    [GlobalSetup]
    public void GlobalSetup()
    {
        _rig = ProcessorRig.Start("logs-processor");
        if (!BodyIndex)
        {
            _rig.Execute("DROP INDEX IF EXISTS telemetry.logs_body_trgm");
        }

        _messages = ProcessorRig.LogRecords(Records, Guid.NewGuid());
        _rows = ProcessorRig.LogRows(_messages);
        if (_rows.Count != Records)
        {
            throw new InvalidOperationException($"{_rows.Count} rows, {Records} expected");
        }

        _rig.Services.GetRequiredService<SpanStorage>().EnsurePartitions(SpanStorage.Logs, _rows.Select(r => UnixNanos.Day(r.PartitionUnixNano)).ToHashSet());
    }

    [IterationSetup(Target = nameof(Processor))]
    public void ProcessorSetup()
    {
        _rig!.Truncate();
        _run = _rig.PrepareLogs(_messages, Partitions);
    }

    /// <summary>Checks that the processor stored every record.</summary>
    [IterationCleanup(Target = nameof(Processor))]
    public void ProcessorCleanup()
    {
        _run!.Dispose();
        var stored = _rig!.Count("SELECT count(*) FROM telemetry.logs");
        if (stored != Records)
        {
            throw new InvalidOperationException($"the processor stored {stored} log records, {Records} expected");
        }
    }

    [IterationSetup(Target = nameof(RawCopy))]
    public void RawCopySetup() => _rig!.Truncate();

    /// <summary>Kafka to PostgreSQL through the processor's own pipeline, until every offset is committed.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public void Processor() => _run!.Run();

    /// <summary>The same log rows, prepared in memory, in one binary COPY and one transaction.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Records)]
    public void RawCopy()
    {
        using var connection = _rig!.DataSource.OpenConnection();
        using var transaction = connection.BeginTransaction();
        LogBatchWriter.Copy(connection, "telemetry.logs", _rows);
        transaction.Commit();
    }

    [GlobalCleanup]
    public void GlobalCleanup() => _rig?.Dispose();
}
