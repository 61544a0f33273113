using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Logs.V1;
using Trulayer.Ingest;
using Trulayer.Ingest.Pipeline;
using Trulayer.Otlp.Json;
using Trulayer.Workload;

namespace Trulayer.Benchmarks;

/// <summary>
/// Ingest's CPU work on log batches, beside <see cref="IngestBenchmarks"/>'s spans and with its config (CPU
/// time per log record, the speed relative to the baseline in the same run):
/// <list type="bullet">
/// <item>GoogleProtobufParse: ExportLogsServiceRequest.Parser.ParseFrom of the same bytes (the baseline).</item>
/// <item>ProtobufDecodeValidateGroup: <see cref="LogsRequestScanner"/> and the composed LogBatch records.</item>
/// <item>JsonDecodeValidateGroup: the same from the batch's OTLP/JSON encoding.</item>
/// <item>ProtobufScanOnly: the scan alone (validate, bound, group), without composing the records.</item>
/// </list>
/// Batches: <c>Application</c> (<see cref="StandardLogs.Application"/>: 1,000 records of 10 traces, one in five
/// without a trace) and <c>GenAiEvents</c> (<see cref="StandardLogs.GenAiEvents"/> of the GenAI spans batch:
/// 666 events with the 2 KiB prompts in their bodies).
/// Run: <c>dotnet run -c Release --project bench/Trulayer.Benchmarks -- --filter '*LogsIngestBenchmarks*'</c>
/// </summary>
[Config(typeof(IngestBenchmarkConfig))]
[MemoryDiagnoser]
public class LogsIngestBenchmarks
{
    private const int Records = 1000;
    private static readonly Guid Project = Guid.Parse("0b6f3f5c-3d61-4a0e-9a47-5d2f5b1c7e11");
    private static readonly Guid Organization = Guid.Parse("7d1e2a4b-9c3f-4e5a-8b6d-1f2e3d4c5b6a");

    private byte[] _protobuf = [];
    private byte[] _json = [];
    private LogsRequestScanner _scanner = null!;
    private IngestOptions _options = null!;

    [Params("Application", "GenAiEvents")]
    public string Batch { get; set; } = "Application";

    [GlobalSetup]
    public void Setup()
    {
        var request = Batch == "Application"
            ? StandardLogs.Application(seed: 42)
            : Padded(StandardLogs.GenAiEvents(StandardBatch.GenAi(seed: 42)));
        _protobuf = request.ToByteArray();
        _json = OtlpJson.SerializeExportLogsServiceRequest(request);
        Console.WriteLine($"// {Batch}: {StandardLogs.RecordCount(request)} records, protobuf {_protobuf.Length} bytes, JSON {_json.Length} bytes");
        _options = new IngestOptions();
        _scanner = new LogsRequestScanner(_options);

        // The benchmarked paths must do the real work: every record accepted into a record of its trace.
        var records = DecodeValidateGroup(_protobuf);
        if (records.Sum(r => r.SpanCount) != Records)
        {
            throw new InvalidOperationException($"expected {Records} log records, got {records.Sum(r => r.SpanCount)} in {records.Count} Kafka records");
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Records)]
    public ExportLogsServiceRequest GoogleProtobufParse() => ExportLogsServiceRequest.Parser.ParseFrom(_protobuf);

    [Benchmark(OperationsPerInvoke = Records)]
    public List<SpanRecord> ProtobufDecodeValidateGroup() => DecodeValidateGroup(_protobuf);

    [Benchmark(OperationsPerInvoke = Records)]
    public List<SpanRecord> JsonDecodeValidateGroup()
    {
        using var transcoded = OtlpJson.TranscodeLogs(_json);
        return DecodeValidateGroup(transcoded.Bytes);
    }

    /// <summary>Where the time goes: the scan alone, without composing the records.</summary>
    [Benchmark(OperationsPerInvoke = Records)]
    public int ProtobufScanOnly() => _scanner.Scan(_protobuf, 1).TraceCount;

    private List<SpanRecord> DecodeValidateGroup(ReadOnlyMemory<byte> protobuf)
    {
        const ulong Received = 1_750_000_000_000_000_000;
        var scan = _scanner.Scan(protobuf, Received);
        return SpanBatchComposer.Compose(scan, Project, Received, _options.MaxRecordBytes, Organization);
    }

    /// <summary>The GenAI events of one standard batch, repeated up to <see cref="Records"/> records (so figures compare per record).</summary>
    private static ExportLogsServiceRequest Padded(ExportLogsServiceRequest events)
    {
        var scope = events.ResourceLogs[0].ScopeLogs[0];
        var originals = scope.LogRecords.ToArray();
        for (var i = 0; scope.LogRecords.Count < Records; i++)
        {
            scope.LogRecords.Add(originals[i % originals.Length]);
        }

        while (scope.LogRecords.Count > Records)
        {
            scope.LogRecords.RemoveAt(scope.LogRecords.Count - 1);
        }

        return events;
    }
}
