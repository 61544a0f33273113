using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Http;

namespace Trulayer.Auth.Audit;

/// <summary>
/// The audit log's paging cursor (<see cref="SignedCursor"/>): bound to the query (organization, from, to,
/// actor, action, limit), the position is the sequence where the page ended. The key is derived from
/// Auth:InternalKey, so there is no further secret to configure.
/// </summary>
internal sealed class AuditCursor(IOptions<AuthOptions> options)
{
    private readonly SignedCursor _cursor = new(options.Value.InternalKeyBytes(), "trulayer.audit.cursor", sizeof(long), "from, to, actor, action and limit");

    public string Protect(byte[] binding, long sequence)
    {
        Span<byte> position = stackalloc byte[sizeof(long)];
        BinaryPrimitives.WriteInt64BigEndian(position, sequence);
        return _cursor.Protect(binding, position);
    }

    /// <summary>The sequence the cursor carries, or the reason it cannot be used with this query.</summary>
    public long? Unprotect(string cursor, byte[] binding, out string? error)
        => _cursor.Unprotect(cursor, binding, out error) is { } position ? BinaryPrimitives.ReadInt64BigEndian(position) : null;

    /// <summary>The binding of a query.</summary>
    public static byte[] Binding(Guid organizationId, AuditQuery query) => SignedCursor.Binding(
        organizationId.ToString("D"),
        query.From is { } from ? AuditHash.UnixMicroseconds(from).ToString(CultureInfo.InvariantCulture) : "",
        query.To is { } to ? AuditHash.UnixMicroseconds(to).ToString(CultureInfo.InvariantCulture) : "",
        query.Actor,
        query.Action,
        query.Limit.ToString(CultureInfo.InvariantCulture));
}
