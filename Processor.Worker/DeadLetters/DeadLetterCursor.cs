using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Processor.DeadLetters;

/// <summary>
/// The dead-letter list's paging cursor (<see cref="SignedCursor"/>, as the audit log's): bound to the query
/// (organization, project, from, to, limit), the position is the failed_at and id where the page ended. The
/// key is derived from Identity:AssertionKey, so there is no further secret to configure.
/// </summary>
internal sealed class DeadLetterCursor(IOptions<IdentityOptions> options)
{
    private const int PositionBytes = sizeof(long) + 16;

    private readonly SignedCursor _cursor = new(Convert.FromBase64String(options.Value.AssertionKey), "trulayer.dlq.cursor", PositionBytes, "project_id, from, to and limit");

    public string Protect(byte[] binding, DateTime failedAt, Guid id)
    {
        Span<byte> position = stackalloc byte[PositionBytes];
        BinaryPrimitives.WriteInt64BigEndian(position, failedAt.Ticks);
        id.TryWriteBytes(position[sizeof(long)..], bigEndian: true, out _);
        return _cursor.Protect(binding, position);
    }

    /// <summary>Where the previous page ended, or null with the reason the cursor cannot be used with this query.</summary>
    public (DateTime FailedAt, Guid Id)? Unprotect(string cursor, byte[] binding, out string? error)
    {
        if (_cursor.Unprotect(cursor, binding, out error) is not { } position)
        {
            return null;
        }

        return (new DateTime(BinaryPrimitives.ReadInt64BigEndian(position), DateTimeKind.Utc), new Guid(position.AsSpan(sizeof(long)), bigEndian: true));
    }

    /// <summary>The binding of a query.</summary>
    public static byte[] Binding(Guid organizationId, Guid? project, DateTime? from, DateTime? to, int limit) => SignedCursor.Binding(
        organizationId.ToString("D"),
        project?.ToString("D"),
        from?.Ticks.ToString(CultureInfo.InvariantCulture),
        to?.Ticks.ToString(CultureInfo.InvariantCulture),
        limit.ToString(CultureInfo.InvariantCulture));
}
