using System.Buffers.Binary;

namespace Trulayer.Otlp.Analytics;

/// <summary>
/// A mergeable latency sketch in the manner of DDSketch: a value x (microseconds) falls in bin
/// ceil(log_γ x) with γ = (1 + α) / (1 - α), and a bin is reported as 2γⁱ / (γ + 1), which is within
/// <see cref="RelativeError"/> of every value in it. Sketches merge by adding counts bin by bin, so the
/// database can merge them by sum. Stored as each non-empty bin packed as <c>bin * 2^40 + count</c>, ascending:
/// a <c>bigint[]</c> of them per minute, a <c>bytea</c> of them (8 bytes each, big-endian: <see cref="EntryBytes"/>)
/// per hour, which PostgreSQL sends as one copy. Values of 1 µs and less share bin 0, reported as 0.
/// The processor writes sketches (<see cref="Bin"/>), Export.Api reads them (<see cref="Quantile"/>).
/// </summary>
public static class LatencySketch
{
    /// <summary>α: every quantile is within 2 % of the exact value at the same rank (values over 1 µs).</summary>
    public const double RelativeError = 0.02;

    /// <summary>Where the count ends and the bin begins in a packed entry.</summary>
    public const int BinShift = 40;

    public const long CountMask = (1L << BinShift) - 1;

    /// <summary>The bytes of one packed entry in a bytea sketch.</summary>
    public const int EntryBytes = sizeof(long);

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

    /// <summary>
    /// The q-quantile (0..1) in nanoseconds of counts per bin (<paramref name="counts"/>[i] is bin
    /// <paramref name="firstBin"/> + i), taken at rank floor(q·(n − 1)) of the n values in ascending order;
    /// null when there are none.
    /// </summary>
    public static double? Quantile(ReadOnlySpan<long> counts, int firstBin, long total, double q)
    {
        if (total <= 0)
        {
            return null;
        }

        var rank = (long)Math.Floor(q * (total - 1));
        long seen = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen > rank)
            {
                return ValueNanos(firstBin + i);
            }
        }

        return ValueNanos(firstBin + counts.Length - 1);
    }
}

/// <summary>Merged sketches as counts per bin over the range of bins seen: merging is adding, a quantile a walk.</summary>
public sealed class LatencyHistogram
{
    private long[] _counts = [];
    private int _firstBin;

    public long Total { get; private set; }

    /// <summary>Adds a stored (packed) sketch.</summary>
    public void AddPacked(ReadOnlySpan<long> packed)
    {
        foreach (var entry in packed)
        {
            Add(LatencySketch.BinOf(entry), LatencySketch.CountOf(entry));
        }
    }

    /// <summary>Adds a stored bytea sketch: packed entries of <see cref="LatencySketch.EntryBytes"/> bytes, big-endian.</summary>
    public void AddPacked(ReadOnlySpan<byte> packed)
    {
        for (var at = 0; at + LatencySketch.EntryBytes <= packed.Length; at += LatencySketch.EntryBytes)
        {
            var entry = BinaryPrimitives.ReadInt64BigEndian(packed[at..]);
            Add(LatencySketch.BinOf(entry), LatencySketch.CountOf(entry));
        }
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < other._counts.Length; i++)
        {
            if (other._counts[i] != 0)
            {
                Add(other._firstBin + i, other._counts[i]);
            }
        }
    }

    public void Add(int bin, long count)
    {
        if (_counts.Length == 0)
        {
            _counts = new long[16];
            _firstBin = bin;
        }
        else if (bin < _firstBin || bin >= _firstBin + _counts.Length)
        {
            var first = Math.Min(bin, _firstBin);
            var last = Math.Max(bin, _firstBin + _counts.Length - 1);
            var grown = new long[Math.Max(last - first + 1, _counts.Length * 2)];
            if (bin < _firstBin)
            {
                first = Math.Max(0, last - grown.Length + 1);
            }

            _counts.CopyTo(grown, _firstBin - first);
            _counts = grown;
            _firstBin = first;
        }

        _counts[bin - _firstBin] += count;
        Total += count;
    }

    /// <summary>The q-quantile in nanoseconds (<see cref="LatencySketch.Quantile"/>); null when empty.</summary>
    public double? Quantile(double q) => LatencySketch.Quantile(_counts, _firstBin, Total, q);
}
