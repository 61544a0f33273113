using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Processor.DeadLetters;

/// <summary>
/// The dead-letter list's paging cursor: <c>base64url(version | binding | failed_at | id | HMAC-SHA256)</c>,
/// as the audit log's: the binding is a hash of the query (organization, project, from, to, limit), so a
/// cursor sent with other parameters is told apart from an altered one. The key is derived from
/// Identity:AssertionKey (HKDF, its own label), so there is no further secret to configure.
/// </summary>
internal sealed class DeadLetterCursor(IOptions<IdentityOptions> options)
{
    private const byte Version = 1;
    private const int BindingBytes = 16;
    private const int MacBytes = 32;
    private const int Length = 1 + BindingBytes + sizeof(long) + 16 + MacBytes;

    private readonly byte[] _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, Convert.FromBase64String(options.Value.AssertionKey), 32,
        info: Encoding.ASCII.GetBytes("trulayer.dlq.cursor"));

    public string Protect(byte[] binding, DateTime failedAt, Guid id)
    {
        var message = new byte[Length];
        message[0] = Version;
        binding.AsSpan(0, BindingBytes).CopyTo(message.AsSpan(1));
        BinaryPrimitives.WriteInt64BigEndian(message.AsSpan(1 + BindingBytes), failedAt.Ticks);
        id.TryWriteBytes(message.AsSpan(1 + BindingBytes + sizeof(long)), bigEndian: true, out _);
        HMACSHA256.HashData(_key, message.AsSpan(0, Length - MacBytes), message.AsSpan(Length - MacBytes));
        return Base64Url.EncodeToString(message);
    }

    /// <summary>Where the previous page ended, or null with the reason the cursor cannot be used with this query.</summary>
    public (DateTime FailedAt, Guid Id)? Unprotect(string cursor, byte[] binding, out string? error)
    {
        error = "cursor is not one this service issued, or it was altered: start again without it";
        byte[] message;
        try
        {
            message = Base64Url.DecodeFromChars(cursor);
        }
        catch (FormatException)
        {
            return null;
        }

        if (message.Length != Length || message[0] != Version)
        {
            return null;
        }

        Span<byte> mac = stackalloc byte[MacBytes];
        HMACSHA256.HashData(_key, message.AsSpan(0, Length - MacBytes), mac);
        if (!CryptographicOperations.FixedTimeEquals(mac, message.AsSpan(Length - MacBytes)))
        {
            return null;
        }

        if (!message.AsSpan(1, BindingBytes).SequenceEqual(binding.AsSpan(0, BindingBytes)))
        {
            error = "cursor belongs to another query: send it with the project_id, from, to and limit it was issued for";
            return null;
        }

        error = null;
        var ticks = BinaryPrimitives.ReadInt64BigEndian(message.AsSpan(1 + BindingBytes));
        return (new DateTime(ticks, DateTimeKind.Utc), new Guid(message.AsSpan(1 + BindingBytes + sizeof(long), 16), bigEndian: true));
    }

    /// <summary>The binding of a query: SHA-256 over its parts, one per line.</summary>
    public static byte[] Binding(Guid organizationId, Guid? project, DateTime? from, DateTime? to, int limit)
        => SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n',
            organizationId.ToString("D"), project?.ToString("D") ?? "\u2205", from?.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "\u2205",
            to?.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "\u2205", limit.ToString(System.Globalization.CultureInfo.InvariantCulture))));
}
