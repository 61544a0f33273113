using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Trulayer.Benchmarks;

/// <summary>
/// Spans per second on one core (1 / the mean time per span), or how many times faster than the
/// baseline with the same parameters that is (the baseline's mean over this one's).
/// </summary>
public sealed class IngestThroughputColumn(bool speedup) : IColumn
{
    public string Id => speedup ? "IngestSpeedup" : "IngestSpansPerSecond";

    public string ColumnName => speedup ? "x full parse" : "Spans/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => speedup ? 1 : 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => speedup
        ? "How many times the spans/s of the baseline (Google.Protobuf's full parse) of the same batch"
        : "Spans per second on one thread: 1 / mean time per span";

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var mean = summary[benchmarkCase]?.ResultStatistics?.Mean;
        if (mean is not > 0)
        {
            return "-";
        }

        if (!speedup)
        {
            return (1e9 / mean.Value).ToString("N0", CultureInfo.InvariantCulture);
        }

        var baseline = summary.BenchmarksCases.FirstOrDefault(c =>
            c.Descriptor.Baseline && c.Parameters.DisplayInfo == benchmarkCase.Parameters.DisplayInfo);
        var baselineMean = baseline is null ? null : summary[baseline]?.ResultStatistics?.Mean;
        return baselineMean is > 0 ? (baselineMean.Value / mean.Value).ToString("0.00", CultureInfo.InvariantCulture) : "-";
    }
}
