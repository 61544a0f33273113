using System.Buffers.Binary;
using System.Text;

namespace Trulayer.Export.Paging;

/// <summary>
/// A span's place in export order: start_time (microseconds, as stored), trace id, span id, then the
/// project, which orders spans that two projects share (the same trace sent to both).
/// </summary>
internal readonly record struct SpanKey(long StartMicros, Guid TraceId, long SpanId, Guid ProjectId)
{
    public const int Size = 8 + 16 + 8 + 16;

    public DateTime StartTime => Micros.ToDateTime(StartMicros);

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteInt64BigEndian(destination, StartMicros);
        TraceId.TryWriteBytes(destination[8..], bigEndian: true, out _);
        BinaryPrimitives.WriteInt64BigEndian(destination[24..], SpanId);
        ProjectId.TryWriteBytes(destination[32..], bigEndian: true, out _);
    }

    public static SpanKey Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadInt64BigEndian(source),
        new Guid(source.Slice(8, 16), bigEndian: true),
        BinaryPrimitives.ReadInt64BigEndian(source[24..]),
        new Guid(source.Slice(32, 16), bigEndian: true));
}

/// <summary>
/// Where an export continues: after <see cref="After"/>, among the spans visible in <see cref="Snapshot"/>
/// (the <c>pg_current_snapshot()</c> of the first page, in its text form).
/// </summary>
internal sealed record ExportPosition(SpanKey After, string Snapshot)
{
    public byte[] ToPayload()
    {
        var snapshot = Encoding.ASCII.GetBytes(Snapshot);
        var payload = new byte[SpanKey.Size + snapshot.Length];
        After.Write(payload);
        snapshot.CopyTo(payload, SpanKey.Size);
        return payload;
    }

    public static ExportPosition? FromPayload(byte[] payload)
        => payload.Length <= SpanKey.Size
            ? null
            : new ExportPosition(SpanKey.Read(payload), Encoding.ASCII.GetString(payload, SpanKey.Size, payload.Length - SpanKey.Size));
}

/// <summary>A trace's place in the trace list, newest first: start_time descending, then trace id, then project.</summary>
internal readonly record struct TraceKey(long StartMicros, Guid TraceId, Guid ProjectId)
{
    public const int Size = 8 + 16 + 16;

    public DateTime StartTime => Micros.ToDateTime(StartMicros);

    public byte[] ToPayload()
    {
        var payload = new byte[Size];
        BinaryPrimitives.WriteInt64BigEndian(payload, StartMicros);
        TraceId.TryWriteBytes(payload.AsSpan(8), bigEndian: true, out _);
        ProjectId.TryWriteBytes(payload.AsSpan(24), bigEndian: true, out _);
        return payload;
    }

    public static TraceKey? FromPayload(byte[] payload)
        => payload.Length != Size
            ? null
            : new TraceKey(
                BinaryPrimitives.ReadInt64BigEndian(payload),
                new Guid(payload.AsSpan(8, 16), bigEndian: true),
                new Guid(payload.AsSpan(24, 16), bigEndian: true));
}

/// <summary>PostgreSQL's timestamptz precision: microseconds since the epoch.</summary>
internal static class Micros
{
    public static DateTime ToDateTime(long micros) => DateTime.UnixEpoch.AddTicks(micros * 10);

    public static long FromDateTime(DateTime time) => (time - DateTime.UnixEpoch).Ticks / 10;

    /// <summary>Unix nanoseconds to the microsecond below, the way the processor fills start_time.</summary>
    public static long FromUnixNanos(long unixNanos) => unixNanos / 1000;

    /// <summary>
    /// Compares uuids as PostgreSQL orders them (their 16 bytes, in order), which is not
    /// <see cref="Guid.CompareTo(Guid)"/>'s order.
    /// </summary>
    public static int CompareUuid(Guid a, Guid b)
    {
        Span<byte> x = stackalloc byte[16];
        Span<byte> y = stackalloc byte[16];
        a.TryWriteBytes(x, bigEndian: true, out _);
        b.TryWriteBytes(y, bigEndian: true, out _);
        return x.SequenceCompareTo(y);
    }
}

/// <summary>
/// A log record's place in log order: time (microseconds, as stored), record id, then the project. The
/// export walks it ascending; the dashboard's list descending.
/// </summary>
internal readonly record struct LogKey(long TimeMicros, Guid RecordId, Guid ProjectId)
{
    public const int Size = 8 + 16 + 16;

    public DateTime Time => Micros.ToDateTime(TimeMicros);

    public byte[] ToPayload(string? snapshot = null)
    {
        var text = snapshot is null ? [] : Encoding.ASCII.GetBytes(snapshot);
        var payload = new byte[Size + text.Length];
        BinaryPrimitives.WriteInt64BigEndian(payload, TimeMicros);
        RecordId.TryWriteBytes(payload.AsSpan(8), bigEndian: true, out _);
        ProjectId.TryWriteBytes(payload.AsSpan(24), bigEndian: true, out _);
        text.CopyTo(payload, Size);
        return payload;
    }

    /// <summary>The key, and the snapshot that follows it in an export cursor (empty in a list cursor); null when the payload is not one.</summary>
    public static (LogKey Key, string Snapshot)? FromPayload(byte[] payload)
        => payload.Length < Size
            ? null
            : (new LogKey(
                BinaryPrimitives.ReadInt64BigEndian(payload),
                new Guid(payload.AsSpan(8, 16), bigEndian: true),
                new Guid(payload.AsSpan(24, 16), bigEndian: true)),
               Encoding.ASCII.GetString(payload, Size, payload.Length - Size));
}

/// <summary>A session's place in the sessions list, newest activity first: last activity descending, then session id, then project.</summary>
internal readonly record struct SessionKey(long LastUnixNano, string SessionId, Guid ProjectId)
{
    public byte[] ToPayload()
    {
        var session = Encoding.UTF8.GetBytes(SessionId);
        var payload = new byte[8 + 16 + session.Length];
        BinaryPrimitives.WriteInt64BigEndian(payload, LastUnixNano);
        ProjectId.TryWriteBytes(payload.AsSpan(8), bigEndian: true, out _);
        session.CopyTo(payload, 24);
        return payload;
    }

    public static SessionKey? FromPayload(byte[] payload)
        => payload.Length <= 24
            ? null
            : new SessionKey(BinaryPrimitives.ReadInt64BigEndian(payload), Encoding.UTF8.GetString(payload, 24, payload.Length - 24), new Guid(payload.AsSpan(8, 16), bigEndian: true));
}

/// <summary>A span's place in the span search, newest first (the export's key, walked descending).</summary>
internal static class SpanKeyPayload
{
    public static byte[] ToPayload(this SpanKey key)
    {
        var payload = new byte[SpanKey.Size];
        key.Write(payload);
        return payload;
    }

    public static SpanKey? FromPayload(byte[] payload) => payload.Length == SpanKey.Size ? SpanKey.Read(payload) : null;
}
