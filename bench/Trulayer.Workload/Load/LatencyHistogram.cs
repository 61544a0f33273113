using System.Numerics;

namespace Trulayer.Workload.Load;

/// <summary>
/// Latencies in log-linear buckets (as HdrHistogram does): 128 buckets per power of two of microseconds,
/// so any percentile is within 1% of the true value, recorded lock-free from many threads, in a fixed
/// 35 KB however long the run.
/// </summary>
public sealed class LatencyHistogram
{
    private const int SubBucketBits = 7;
    private const int SubBuckets = 1 << SubBucketBits;
    private const int Exponents = 40; // up to 2^40 µs, about 12 days
    private readonly long[] _counts = new long[SubBuckets + (Exponents - SubBucketBits + 1) * SubBuckets];

    public void Record(TimeSpan latency)
    {
        var micros = (long)Math.Max(1, latency.TotalMicroseconds);
        Interlocked.Increment(ref _counts[Index(micros)]);
    }

    public LatencySnapshot Snapshot()
    {
        var copy = new long[_counts.Length];
        for (var i = 0; i < copy.Length; i++)
        {
            copy[i] = Interlocked.Read(ref _counts[i]);
        }

        return new LatencySnapshot(copy);
    }

    internal static int Index(long micros)
    {
        var value = (ulong)Math.Min(micros, (1L << Exponents) - 1);
        if (value < SubBuckets)
        {
            return (int)value;
        }

        var exponent = BitOperations.Log2(value);
        var shift = exponent - SubBucketBits;
        var sub = (int)(value >> shift) - SubBuckets;
        return SubBuckets + shift * SubBuckets + sub;
    }

    /// <summary>The middle of bucket <paramref name="index"/>, in microseconds.</summary>
    internal static double Value(int index)
    {
        if (index < SubBuckets)
        {
            return index;
        }

        var shift = (index - SubBuckets) / SubBuckets;
        var sub = (index - SubBuckets) % SubBuckets;
        var low = (double)((long)(SubBuckets + sub) << shift);
        return low + ((1L << shift) - 1) / 2.0;
    }
}

/// <summary>The counts of a <see cref="LatencyHistogram"/> at one moment; two snapshots subtract into an interval's.</summary>
public sealed class LatencySnapshot
{
    private readonly long[] _counts;

    internal LatencySnapshot(long[] counts)
    {
        _counts = counts;
        Count = counts.Sum();
    }

    public static LatencySnapshot Empty { get; } = new(new LatencyHistogram().Snapshot()._counts);

    public long Count { get; }

    /// <summary>The latency below which <paramref name="percentile"/> percent of the recorded ones are (zero when none are).</summary>
    public TimeSpan Percentile(double percentile)
    {
        if (Count == 0)
        {
            return TimeSpan.Zero;
        }

        var rank = (long)Math.Ceiling(percentile / 100 * Count);
        rank = Math.Clamp(rank, 1, Count);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return TimeSpan.FromMicroseconds(LatencyHistogram.Value(i));
            }
        }

        return TimeSpan.FromMicroseconds(LatencyHistogram.Value(_counts.Length - 1));
    }

    public TimeSpan Max
    {
        get
        {
            for (var i = _counts.Length - 1; i >= 0; i--)
            {
                if (_counts[i] > 0)
                {
                    return TimeSpan.FromMicroseconds(LatencyHistogram.Value(i));
                }
            }

            return TimeSpan.Zero;
        }
    }

    /// <summary>What was recorded after <paramref name="earlier"/> was taken.</summary>
    public LatencySnapshot Since(LatencySnapshot earlier)
    {
        var counts = new long[_counts.Length];
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = _counts[i] - earlier._counts[i];
        }

        return new LatencySnapshot(counts);
    }
}
