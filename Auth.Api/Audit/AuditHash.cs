using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Trulayer.Auth.Audit;

/// <summary>
/// The hash that chains an organization's audit entries: SHA-256 over the canonical encoding of an
/// entry, which includes the previous entry's hash (32 zero bytes before the first). The encoding is
/// the version tag and then every field in a fixed order, each as a 4-byte big-endian byte count and
/// its UTF-8 bytes, null as the count 0xFFFFFFFF; the README's "Audit log" section lists the fields
/// and how each is written, so the chain can be checked without this code.
/// </summary>
internal static class AuditHash
{
    public const string Version = "trulayer.audit.v1";

    public static readonly byte[] Genesis = new byte[32];

    public static byte[] Compute(Guid organizationId, long sequence, Guid id, DateTimeOffset occurredAt, AuditEntry entry, byte[] previousHash)
    {
        var buffer = new List<byte>(512);
        Write(buffer, Version);
        Write(buffer, organizationId.ToString("D"));
        Write(buffer, sequence.ToString(CultureInfo.InvariantCulture));
        Write(buffer, id.ToString("D"));
        Write(buffer, UnixMicroseconds(occurredAt).ToString(CultureInfo.InvariantCulture));
        Write(buffer, entry.Source);
        Write(buffer, entry.Phase);
        Write(buffer, entry.ActorKind);
        Write(buffer, entry.ActorId);
        Write(buffer, entry.ActorRole);
        Write(buffer, entry.ProjectId?.ToString("D"));
        Write(buffer, entry.Action);
        Write(buffer, entry.Method);
        Write(buffer, entry.Route);
        Write(buffer, entry.TargetId);
        Write(buffer, entry.Detail);
        Write(buffer, entry.Status?.ToString(CultureInfo.InvariantCulture));
        Write(buffer, entry.CorrelationId);
        Write(buffer, entry.ClientAddress);
        Write(buffer, Convert.ToHexStringLower(previousHash));
        return SHA256.HashData(buffer.ToArray());
    }

    public static byte[] Compute(AuditRecord record)
        => Compute(record.OrganizationId, record.Sequence, record.Id, record.OccurredAt, record.Entry, record.PreviousHash);

    /// <summary>Microseconds since 1970-01-01 UTC: what PostgreSQL's timestamptz keeps.</summary>
    public static long UnixMicroseconds(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    private static void Write(List<byte> buffer, string? value)
    {
        Span<byte> length = stackalloc byte[4];
        if (value is null)
        {
            BinaryPrimitives.WriteUInt32BigEndian(length, uint.MaxValue);
            buffer.AddRange(length);
            return;
        }

        var bytes = Encoding.UTF8.GetBytes(value);
        BinaryPrimitives.WriteUInt32BigEndian(length, (uint)bytes.Length);
        buffer.AddRange(length);
        buffer.AddRange(bytes);
    }
}
