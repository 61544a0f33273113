using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using System.Text.Json;
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
/// The JSON cases come twice, once per tokenizer under the same transcoder: the hand-written <c>JsonTokenReader</c>
/// and (<c>...WithUtf8JsonReader</c>) System.Text.Json's <see cref="System.Text.Json.Utf8JsonReader"/>: the same
/// code and message tables, including the compact-attribute fast path, from the same JSON bytes to the same
/// protobuf bytes (checked at setup). JsonTokensOnly is the tokenizing pass alone over the same bytes: every token
/// read and, for strings, property names and numbers, the length of its raw value added up (no fast path, no
/// unescaping, no output).
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

        // And both tokenizers must read the same: the same protobuf bytes, the same tokens.
        using var own = Transcode(utf8JsonReader: false);
        using var systemTextJson = Transcode(utf8JsonReader: true);
        if (!own.Bytes.Span.SequenceEqual(systemTextJson.Bytes.Span) || JsonTokensOnly() != JsonTokensOnlyWithUtf8JsonReader())
        {
            throw new InvalidOperationException("the two tokenizers read the batch differently");
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Spans)]
    public ExportTraceServiceRequest GoogleProtobufParse() => ExportTraceServiceRequest.Parser.ParseFrom(_protobuf);

    [Benchmark(OperationsPerInvoke = Spans)]
    public List<SpanRecord> ProtobufDecodeValidateGroup() => DecodeValidateGroup(_protobuf);

    [Benchmark(OperationsPerInvoke = Spans)]
    public List<SpanRecord> JsonDecodeValidateGroup()
    {
        using var transcoded = Transcode(utf8JsonReader: false);
        return DecodeValidateGroup(transcoded.Bytes);
    }

    [Benchmark(OperationsPerInvoke = Spans)]
    public List<SpanRecord> JsonDecodeValidateGroupWithUtf8JsonReader()
    {
        using var transcoded = Transcode(utf8JsonReader: true);
        return DecodeValidateGroup(transcoded.Bytes);
    }

    [Benchmark(OperationsPerInvoke = Spans)]
    public int ProtobufScanOnly() => _scanner.Scan(_protobuf, 1).TraceCount;

    [Benchmark(OperationsPerInvoke = Spans)]
    public int JsonTranscodeOnly()
    {
        using var transcoded = Transcode(utf8JsonReader: false);
        return transcoded.Bytes.Length;
    }

    [Benchmark(OperationsPerInvoke = Spans)]
    public int JsonTranscodeOnlyWithUtf8JsonReader()
    {
        using var transcoded = Transcode(utf8JsonReader: true);
        return transcoded.Bytes.Length;
    }

    [Benchmark(OperationsPerInvoke = Spans)]
    public long JsonTokensOnly()
    {
        var reader = new JsonTokenReader(_json);
        return ReadAllTokens(ref reader);
    }

    [Benchmark(OperationsPerInvoke = Spans)]
    public long JsonTokensOnlyWithUtf8JsonReader()
    {
        var reader = new Utf8JsonTokenSource(_json);
        return ReadAllTokens(ref reader);
    }

    private OtlpProtobufPayload Transcode(bool utf8JsonReader) => OtlpJson.Transcode(_json, OtlpJsonMessages.TracesData, utf8JsonReader);

    private static long ReadAllTokens<TReader>(ref TReader reader)
        where TReader : IJsonTokenSource, allows ref struct
    {
        long total = 0;
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName or JsonTokenType.Number)
            {
                total += reader.ValueSpan.Length;
            }
        }

        return total;
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
