using System.Globalization;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Trulayer.Benchmarks;

/// <summary>
/// Spans per second on one core (1 / the mean time per span), or how many times faster than the
/// baseline with the same parameters that is (the baseline's mean over this one's).
/// </summary>
public sealed class IngestThroughputColumn(bool speedup) : CustomColumn(
    speedup ? "x full parse" : "Spans/s",
    speedup
        ? "How many times the spans/s of the baseline (Google.Protobuf's full parse) of the same batch"
        : "Spans per second on one thread: 1 / mean time per span",
    speedup ? 1 : 0)
{
    public override string GetValue(Summary summary, BenchmarkCase benchmarkCase)
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
