using System.Buffers.Binary;
using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Trulayer.Auth.Audit;

/// <summary>
/// The audit log's paging cursor: <c>base64url(version | binding | sequence | HMAC-SHA256)</c>. The
/// binding is a hash of the query (organization, from, to, actor, action, limit), so a cursor used with
/// other parameters is told apart from an altered one; the sequence is where the page ended. The key is
/// derived from Auth:InternalKey (HKDF, its own label), so there is no further secret to configure.
/// </summary>
internal sealed class AuditCursor(IOptions<AuthOptions> options)
{
    private const byte Version = 1;
    private const int BindingBytes = 16;
    private const int MacBytes = 32;
    private const int Length = 1 + BindingBytes + sizeof(long) + MacBytes;

    private readonly byte[] _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, options.Value.InternalKeyBytes(), 32, info: Encoding.ASCII.GetBytes("trulayer.audit.cursor"));

    public string Protect(byte[] binding, long sequence)
    {
        var message = new byte[Length];
        message[0] = Version;
        binding.AsSpan(0, BindingBytes).CopyTo(message.AsSpan(1));
        BinaryPrimitives.WriteInt64BigEndian(message.AsSpan(1 + BindingBytes), sequence);
        HMACSHA256.HashData(_key, message.AsSpan(0, Length - MacBytes), message.AsSpan(Length - MacBytes));
        return Base64Url.EncodeToString(message);
    }

    /// <summary>The sequence the cursor carries, or the reason it cannot be used with this query.</summary>
    public long? Unprotect(string cursor, byte[] binding, out string? error)
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
            error = "cursor belongs to another query: send it with the from, to, actor, action and limit it was issued for";
            return null;
        }

        error = null;
        return BinaryPrimitives.ReadInt64BigEndian(message.AsSpan(1 + BindingBytes));
    }

    /// <summary>The binding of a query: SHA-256 over its parts, one per line.</summary>
    public static byte[] Binding(Guid organizationId, AuditQuery query)
    {
        var text = string.Join('\n',
            organizationId.ToString("D"),
            query.From is { } from ? AuditHash.UnixMicroseconds(from).ToString(CultureInfo.InvariantCulture) : "",
            query.To is { } to ? AuditHash.UnixMicroseconds(to).ToString(CultureInfo.InvariantCulture) : "",
            query.Actor ?? "\u2205",
            query.Action ?? "\u2205",
            query.Limit.ToString(CultureInfo.InvariantCulture));
        return SHA256.HashData(Encoding.UTF8.GetBytes(text));
    }
}
