using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Microsoft.Extensions.DependencyInjection;
using Trulayer.Processor.Storage;

namespace Trulayer.Benchmarks;

/// <summary>
/// What each search index on telemetry.spans costs a write: the raw binary COPY of <see cref="ProcessorBenchmarks"/>
/// (30,000 rows of the standard GenAI batch, built by the processor's own decoder, one COPY in one transaction)
/// with the spans table's GIN indexes made one way or another before the run. <c>Indexes</c>:
/// <list type="bullet">
/// <item><c>None</c>: neither GIN index (the B-tree indexes only);</item>
/// <item><c>AttrHashes</c>: only spans_attr_hashes (attr.&lt;key&gt;=&lt;value&gt;, migration 0006);</item>
/// <item><c>WholeText</c>: only 0006's trigram index over the whole input_text and output_text;</item>
/// <item><c>BoundedText</c>: only 0012's trigram index over telemetry.span_search_text (each text whole up to
/// 1,024 characters, else its first and last 512);</item>
/// <item><c>BoundedText256</c>: the same bound at 256 + 256 characters (an option, not shipped);</item>
/// <item><c>Shipped</c>: spans_attr_hashes and 0012's index, as the migrations leave the table.</item>
/// </list>
/// <code>dotnet run -c Release --project bench/Trulayer.Benchmarks -- --filter '*SpanIndexBenchmarks*'</code>
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 7)]
[MinColumn, MedianColumn]
[GcServer(true)]
public class SpanIndexBenchmarks
{
    private const int Spans = 30_000;

    private const string AttrHashes = "CREATE INDEX spans_attr_hashes ON telemetry.spans USING gin (attr_hashes)";
    private const string WholeText = "CREATE INDEX spans_text_trgm ON telemetry.spans USING gin (input_text gin_trgm_ops, output_text gin_trgm_ops)";
    private const string BoundedText =
        "CREATE INDEX spans_search_text_trgm ON telemetry.spans USING gin (telemetry.span_search_text(input_text, output_text) gin_trgm_ops)";
    private const string BoundedText256 = """
        CREATE INDEX spans_search_text_256 ON telemetry.spans USING gin ((
            coalesce(CASE WHEN length(input_text) <= 512 THEN input_text ELSE left(input_text, 256) || E'\n' || right(input_text, 256) END, '')
            || E'\n' ||
            coalesce(CASE WHEN length(output_text) <= 512 THEN output_text ELSE left(output_text, 256) || E'\n' || right(output_text, 256) END, '')) gin_trgm_ops)
        """;

    private ProcessorRig? _rig;
    private List<SpanRow> _rows = [];

    [Params("None", "AttrHashes", "WholeText", "BoundedText", "BoundedText256", "Shipped")]
    public string Indexes { get; set; } = "Shipped";

    [GlobalSetup]
    public void GlobalSetup()
    {
        _rig = ProcessorRig.Start("span-index");
        _rows = ProcessorRig.Rows(ProcessorRig.Records(ProcessorRig.Requests("GenAi", Spans), Guid.NewGuid()));
        _rig.Services.GetRequiredService<SpanStorage>().EnsurePartitions(_rows.Select(r => UnixNanos.Day(r.StartUnixNano)).ToHashSet());
        _rig.Execute("DROP INDEX IF EXISTS telemetry.spans_attr_hashes, telemetry.spans_text_trgm, telemetry.spans_search_text_trgm");
        string[] indexes = Indexes switch
        {
            "None" => [],
            "AttrHashes" => [AttrHashes],
            "WholeText" => [WholeText],
            "BoundedText" => [BoundedText],
            "BoundedText256" => [BoundedText256],
            "Shipped" => [AttrHashes, BoundedText],
            _ => throw new ArgumentOutOfRangeException(nameof(Indexes), Indexes, "an index set this benchmark knows"),
        };
        foreach (var index in indexes)
        {
            _rig.Execute(index);
        }
    }

    [IterationSetup]
    public void IterationSetup() => _rig!.Truncate();

    /// <summary>The rows in one binary COPY and one transaction, as <see cref="ProcessorBenchmarks.RawCopy"/>.</summary>
    [Benchmark(OperationsPerInvoke = Spans)]
    public void RawCopy() => _rig!.RawCopy(_rows);

    [GlobalCleanup]
    public void GlobalCleanup() => _rig?.Dispose();
}
