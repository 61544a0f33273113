using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Trulayer.Workload.Load;

/// <summary>
/// The trace and span ids of one load run. Every request gets fresh ids that still say which run and
/// which request they belong to, so the run's spans can be found in PostgreSQL and matched to what
/// ingest acknowledged:
/// <list type="bullet">
/// <item>trace id: the run id (8 random bytes), then a bijective mix of (request, trace index): all of a
/// run's traces share one range of the trace_id index, inserted in random order within it;</item>
/// <item>span id: a different bijective mix of (request, span index): unique in the run, never zero.</item>
/// </list>
/// </summary>
public sealed class RunIds
{
    /// <summary>Bits of the packed value that hold the trace or span index within a request.</summary>
    private const int IndexBits = 16;

    /// <summary>The most spans (and traces) one request may carry: ingest's default limit is 10,000.</summary>
    public const int MaxPerRequest = 1 << IndexBits;

    private const ulong SplitMixA = 0xbf58476d1ce4e5b9UL;
    private const ulong SplitMixB = 0x94d049bb133111ebUL;
    private static readonly ulong SplitMixAInverse = ModularInverse(SplitMixA);
    private static readonly ulong SplitMixBInverse = ModularInverse(SplitMixB);

    public RunIds(ulong runId)
    {
        ArgumentOutOfRangeException.ThrowIfZero(runId);
        RunId = runId;
    }

    /// <summary>The first 8 bytes of every trace id of the run.</summary>
    public ulong RunId { get; }

    public static RunIds NewRun()
    {
        ulong id;
        do
        {
            id = BinaryPrimitives.ReadUInt64BigEndian(RandomNumberGenerator.GetBytes(8));
        }
        while (id == 0);

        return new RunIds(id);
    }

    /// <summary>The lowest and highest trace id of the run, as PostgreSQL's uuid orders them.</summary>
    public (Guid Low, Guid High) TraceIdRange
    {
        get
        {
            Span<byte> bytes = stackalloc byte[16];
            BinaryPrimitives.WriteUInt64BigEndian(bytes, RunId);
            bytes[8..].Clear();
            var low = new Guid(bytes, bigEndian: true);
            bytes[8..].Fill(0xFF);
            return (low, new Guid(bytes, bigEndian: true));
        }
    }

    /// <summary>Writes the 16-byte trace id of trace <paramref name="trace"/> of request <paramref name="request"/> (1 or more).</summary>
    public void WriteTraceId(Span<byte> destination, long request, int trace)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, RunId);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], SplitMix(Pack(request, trace)));
    }

    /// <summary>Writes the 8-byte span id of span <paramref name="span"/> of request <paramref name="request"/>.</summary>
    public static void WriteSpanId(Span<byte> destination, long request, int span)
        => BinaryPrimitives.WriteUInt64BigEndian(destination, Fmix(Pack(request, span)));

    /// <summary>Which request and trace index a trace id of this run stands for; false for another run's id.</summary>
    public bool TryReadTraceId(ReadOnlySpan<byte> traceId, out long request, out int trace)
    {
        request = 0;
        trace = 0;
        if (traceId.Length != 16 || BinaryPrimitives.ReadUInt64BigEndian(traceId) != RunId)
        {
            return false;
        }

        var packed = UnSplitMix(BinaryPrimitives.ReadUInt64BigEndian(traceId[8..]));
        request = (long)(packed >> IndexBits);
        trace = (int)(packed & (MaxPerRequest - 1));
        return request > 0;
    }

    private static ulong Pack(long request, int index)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(request, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(request, long.MaxValue >> IndexBits);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, MaxPerRequest);
        return ((ulong)request << IndexBits) | (uint)index;
    }

    // splitmix64's finalizer and murmur3's fmix64 are bijections on 64 bits that map only 0 to 0: a packed
    // value (never 0, the request being at least 1) gives a unique, non-zero, random-looking id.
    private static ulong SplitMix(ulong z)
    {
        z = (z ^ (z >> 30)) * SplitMixA;
        z = (z ^ (z >> 27)) * SplitMixB;
        return z ^ (z >> 31);
    }

    private static ulong UnSplitMix(ulong z)
    {
        z = UnXorShift(z, 31) * SplitMixBInverse;
        z = UnXorShift(z, 27) * SplitMixAInverse;
        return UnXorShift(z, 30);
    }

    private static ulong Fmix(ulong k)
    {
        k = (k ^ (k >> 33)) * 0xff51afd7ed558ccdUL;
        k = (k ^ (k >> 33)) * 0xc4ceb9fe1a85ec53UL;
        return k ^ (k >> 33);
    }

    /// <summary>The inverse of <c>x ^ (x &gt;&gt; shift)</c>.</summary>
    private static ulong UnXorShift(ulong y, int shift)
    {
        var x = y;
        for (var known = shift; known < 64; known += shift)
        {
            x = y ^ (x >> shift);
        }

        return x;
    }

    /// <summary>The inverse of an odd number modulo 2^64 (Newton's iteration doubles the correct bits each step).</summary>
    private static ulong ModularInverse(ulong odd)
    {
        var inverse = odd;
        for (var i = 0; i < 6; i++)
        {
            inverse *= 2 - odd * inverse;
        }

        return inverse;
    }
}
