using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using Trulayer.Ingest;
using Trulayer.Ingest.Pipeline;
using Trulayer.Otlp.Json;
using Trulayer.Workload;

namespace Trulayer.Benchmarks;

/// <summary>
/// Ingest's CPU work on the standard batches (DESIGN.md "Performance": 1,000 spans of 10 traces), next to
/// Google.Protobuf's full parse of the same bytes in the same run. Every figure is CPU time per span
/// (<see cref="ProcessCpuClock"/>; OperationsPerInvoke = the batch's span count), on one thread:
/// <list type="bullet">
/// <item>GoogleProtobufParse: ExportTraceServiceRequest.Parser.ParseFrom, every attribute materialized (the baseline).</item>
/// <item>ProtobufDecodeValidateGroup: what ingest does to a protobuf request before producing: scan and
/// validate every span, bound it, group by trace, compose the Kafka records' SpanBatch bytes.</item>
/// <item>JsonDecodeValidateGroup: the same from the OTLP/JSON encoding of the batch (transcode, then the above).</item>
/// <item>ProtobufScanOnly, JsonTranscodeOnly: where the time goes, the scan alone and the transcoding alone.</item>
/// </list>
/// The transcoder tokenizes with System.Text.Json's Utf8JsonReader. Commit faf36e2 ran these cases with both the
/// hand-written tokenizer it had before and Utf8JsonReader under the same transcoder (README, "Performance: ingest").
/// Run (without --job: the config's job carries the GC setting of the service): <c>dotnet run -c Release --project bench/Trulayer.Benchmarks -- --filter '*IngestBenchmarks*'</c>
/// (the JSON cases and the baseline: <c>--filter '*IngestBenchmarks.Json*' '*IngestBenchmarks.Google*'</c>).
/// </summary>
[Config(typeof(IngestBenchmarkConfig))]
[MemoryDiagnoser]
public class IngestBenchmarks
{
    private const int Spans = StandardBatch.DefaultSpans;
    private static readonly Guid Project = Guid.Parse("0b6f3f5c-3d61-4a0e-9a47-5d2f5b1c7e11");

    private byte[] _protobuf = [];
    private byte[] _json = [];
    private ExportRequestScanner _scanner = null!;
    private IngestOptions _options = null!;

    [Params("GenAi", "Lean")]
    public string Batch { get; set; } = "GenAi";

    [GlobalSetup]
    public void Setup()
    {
        var request = Batch == "GenAi" ? StandardBatch.GenAi(seed: 42) : StandardBatch.Lean(seed: 42);
        _protobuf = request.ToByteArray();
        _json = OtlpJson.SerializeExportTraceServiceRequest(request);
        Console.WriteLine($"// {Batch}: protobuf {_protobuf.Length} bytes, JSON {_json.Length} bytes");
        _options = new IngestOptions();
        _scanner = new ExportRequestScanner(_options);

        // The benchmarked paths must do the real work: every span accepted into its trace's record.
        var records = DecodeValidateGroup(_protobuf);
        if (records.Sum(r => r.SpanCount) != Spans || records.Count != StandardBatch.DefaultTraces)
        {
            throw new InvalidOperationException($"expected {Spans} spans in {StandardBatch.DefaultTraces} records, got {records.Sum(r => r.SpanCount)} in {records.Count}");
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Spans)]
    public ExportTraceServiceRequest GoogleProtobufParse() => ExportTraceServiceRequest.Parser.ParseFrom(_protobuf);

    [Benchmark(OperationsPerInvoke = Spans)]
    public List<SpanRecord> ProtobufDecodeValidateGroup() => DecodeValidateGroup(_protobuf);

    [Benchmark(OperationsPerInvoke = Spans)]
    public List<SpanRecord> JsonDecodeValidateGroup()
    {
        using var transcoded = OtlpJson.TranscodeTraces(_json);
        return DecodeValidateGroup(transcoded.Bytes);
    }

    [Benchmark(OperationsPerInvoke = Spans)]
    public int ProtobufScanOnly() => _scanner.Scan(_protobuf, 1).TraceCount;

    [Benchmark(OperationsPerInvoke = Spans)]
    public int JsonTranscodeOnly()
    {
        using var transcoded = OtlpJson.TranscodeTraces(_json);
        return transcoded.Bytes.Length;
    }

    private List<SpanRecord> DecodeValidateGroup(ReadOnlyMemory<byte> protobuf)
    {
        const ulong Received = 1_750_000_000_000_000_000;
        var scan = _scanner.Scan(protobuf, Received);
        return SpanBatchComposer.Compose(scan, Project, Received, _options.MaxRecordBytes);
    }
}

/// <summary>Per-span figures for the ingest benchmarks: spans/s per core and the speed relative to the full parse.</summary>
public sealed class IngestBenchmarkConfig : ManualConfig
{
    public IngestBenchmarkConfig()
    {
        // Ingest.Api runs with System.GC.LOHThreshold = 1,200,000 (see its csproj), which keeps the record
        // arrays out of the large object heap; the benchmark process runs with the same setting. The clock is
        // the process's CPU time, which other work on a shared machine does not inflate.
        var job = Job.Default.WithEnvironmentVariables(new EnvironmentVariable("DOTNET_GCLOHThreshold", "0x124F80")).WithId("Ingest");
        job.Infrastructure.Clock = new ProcessCpuClock();
        AddJob(job);
        AddColumn(new IngestThroughputColumn(speedup: false), new IngestThroughputColumn(speedup: true));
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}
