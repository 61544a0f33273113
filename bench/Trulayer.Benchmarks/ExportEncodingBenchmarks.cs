using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Export.Output;
using Trulayer.Export.Storage;
using Trulayer.Workload;

namespace Trulayer.Benchmarks;

/// <summary>
/// Where an export page's CPU goes inside Export.Api, without PostgreSQL or HTTP: the page writers turning
/// 10,000 stored spans (their protobuf bytes, as read from spans.otlp) into the response body, OTLP/JSON and
/// protobuf, next to Google.Protobuf's parse of the same spans (which the JSON path does first). One
/// operation is one span, on one thread.
/// <code>dotnet run -c Release --project bench/Trulayer.Benchmarks -- --filter '*ExportEncodingBenchmarks*'</code>
/// </summary>
[MemoryDiagnoser]
public class ExportEncodingBenchmarks
{
    private const int Spans = 10_000;

    private byte[][] _spans = [];
    private List<SpanGroup> _groups = [];
    private int[] _groupStarts = [];

    [Params("GenAi", "Lean")]
    public string Batch { get; set; } = "GenAi";

    [GlobalSetup]
    public void Setup()
    {
        var requests = Enumerable.Range(0, Spans / StandardBatch.DefaultSpans)
            .Select(i => Batch == "GenAi" ? StandardBatch.GenAi(seed: i) : StandardBatch.Lean(seed: i))
            .ToList();
        // The groups as a page has them: one per scope, the spans of each in a run.
        var scopes = requests.SelectMany(r => r.ResourceSpans[0].ScopeSpans.Select((s, i) => (Resource: r.ResourceSpans[0], Scope: s, Index: i)))
            .GroupBy(s => s.Index)
            .ToList();
        var spans = new List<byte[]>();
        var starts = new List<int>();
        foreach (var scope in scopes)
        {
            starts.Add(spans.Count);
            var bytes = scope.SelectMany(s => s.Scope.Spans).Select(s => s.ToByteArray()).ToList();
            var first = scope.First();
            _groups.Add(new SpanGroup(Guid.Empty, Guid.Empty, new Guid(scope.Key, 0, 0, new byte[8]), bytes.Count,
                bytes.Sum(b => SpanGroup.SpanFieldSize(b.Length)), first.Resource.Resource.ToByteArray(), first.Resource.SchemaUrl,
                first.Scope.Scope.ToByteArray(), first.Scope.SchemaUrl));
            spans.AddRange(bytes);
        }

        _spans = [.. spans];
        _groupStarts = [.. starts];
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Spans)]
    public long GoogleProtobufParse()
    {
        long names = 0;
        foreach (var bytes in _spans)
        {
            names += Span.Parser.ParseFrom(bytes).Name.Length;
        }

        return names;
    }

    [Benchmark(OperationsPerInvoke = Spans)]
    public Task Json() => WriteAsync(OtlpFormat.Json);

    [Benchmark(OperationsPerInvoke = Spans)]
    public Task Protobuf() => WriteAsync(OtlpFormat.Protobuf);

    private async Task WriteAsync(OtlpFormat format)
    {
        var output = PipeWriter.Create(Stream.Null, new StreamPipeWriterOptions(leaveOpen: true));
        var writer = format.CreateWriter(output);
        writer.Begin(_groups);
        var group = 0;
        for (var i = 0; i < _spans.Length; i++)
        {
            if (group < _groupStarts.Length && _groupStarts[group] == i)
            {
                writer.BeginGroup(group++);
            }

            writer.WriteSpan(_spans[i]);
            if (writer.ShouldFlush)
            {
                await writer.FlushAsync(CancellationToken.None);
            }
        }

        writer.End();
        await writer.FlushAsync(CancellationToken.None);
        await output.CompleteAsync();
    }
}
