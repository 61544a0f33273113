namespace Trulayer.Otlp.Analytics;

/// <summary>
/// A mergeable latency sketch in the manner of DDSketch: a value x (microseconds) falls in bin
/// ceil(log_γ x) with γ = (1 + α) / (1 - α), and a bin is reported as 2γⁱ / (γ + 1), which is within
/// <see cref="RelativeError"/> of every value in it. Sketches merge by adding counts bin by bin, so the
/// database can merge them by sum. Stored as one <c>bigint[]</c>: each non-empty bin as
/// <c>bin * 2^40 + count</c>, ascending. Values of 1 µs and less share bin 0, reported as 0.
/// The processor writes sketches (<see cref="Bin"/>), Export.Api reads them (<see cref="Quantile"/>).
/// </summary>
public static class LatencySketch
{
    /// <summary>α: every quantile is within 2 % of the exact value at the same rank (values over 1 µs).</summary>
    public const double RelativeError = 0.02;

    /// <summary>Where the count ends and the bin begins in a packed entry.</summary>
    public const int BinShift = 40;

    public const long CountMask = (1L << BinShift) - 1;

    private static readonly double Gamma = (1 + RelativeError) / (1 - RelativeError);
    private static readonly double LogGamma = Math.Log(Gamma);

    /// <summary>The bin of a duration in nanoseconds.</summary>
    public static int Bin(long durationNanos)
    {
        var micros = durationNanos / 1000.0;
        return micros <= 1 ? 0 : (int)Math.Ceiling(Math.Log(micros) / LogGamma);
    }

    /// <summary>The value a bin stands for, in nanoseconds.</summary>
    public static double ValueNanos(int bin) => bin == 0 ? 0 : 2 * Math.Pow(Gamma, bin) / (Gamma + 1) * 1000;

    public static long Pack(int bin, long count) => ((long)bin << BinShift) | Math.Min(count, CountMask);

    public static int BinOf(long packed) => (int)(packed >> BinShift);

    public static long CountOf(long packed) => packed & CountMask;

    /// <summary>Adds a packed sketch's counts into <paramref name="bins"/> (bin → count).</summary>
    public static void MergeInto(SortedDictionary<int, long> bins, IEnumerable<long> packed)
    {
        foreach (var entry in packed)
        {
            var bin = BinOf(entry);
            bins[bin] = bins.GetValueOrDefault(bin) + CountOf(entry);
        }
    }

    /// <summary>
    /// The q-quantile (0..1) of merged bins in nanoseconds, taken at rank floor(q·(n − 1)) of the n values
    /// in ascending order; null when the sketch is empty.
    /// </summary>
    public static double? Quantile(SortedDictionary<int, long> bins, long total, double q)
    {
        if (total <= 0)
        {
            return null;
        }

        var rank = (long)Math.Floor(q * (total - 1));
        long seen = 0;
        foreach (var (bin, count) in bins)
        {
            seen += count;
            if (seen > rank)
            {
                return ValueNanos(bin);
            }
        }

        return ValueNanos(bins.Keys.Last());
    }
}
