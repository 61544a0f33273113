using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Trulayer.ServiceDefaults.Http;

/// <summary>
/// A keyset paging cursor a client cannot forge: <c>base64url(version | binding | position | HMAC-SHA256)</c>.
/// The binding is a hash of the query the page answered (<see cref="Binding"/>), so a cursor sent with other
/// parameters is told apart from an altered one; the position is where the page ended, in the owner's
/// own encoding of fixed length. The key is derived (HKDF) from a secret the service has already, under a
/// label of its own per list.
/// </summary>
public sealed class SignedCursor
{
    private const byte Version = 1;
    private const int BindingBytes = 16;
    private const int MacBytes = 32;
    private const string Forged = "cursor is not one this service issued, or it was altered: start again without it";

    private readonly byte[] _key;
    private readonly int _positionBytes;
    private readonly string _otherQuery;

    /// <param name="secret">The service's secret the key is derived from.</param>
    /// <param name="label">The list's own HKDF label (trulayer.audit.cursor, ...): one list's cursors are never another's.</param>
    /// <param name="positionBytes">The length of a position.</param>
    /// <param name="parameters">The query parameters a cursor is bound to, as the refusal names them ("from, to and limit").</param>
    public SignedCursor(byte[] secret, string label, int positionBytes, string parameters)
    {
        _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, info: Encoding.ASCII.GetBytes(label));
        _positionBytes = positionBytes;
        _otherQuery = $"cursor belongs to another query: send it with the {parameters} it was issued for";
    }

    private int Length => 1 + BindingBytes + _positionBytes + MacBytes;

    public string Protect(byte[] binding, ReadOnlySpan<byte> position)
    {
        if (position.Length != _positionBytes)
        {
            throw new ArgumentException($"a position is {_positionBytes} bytes", nameof(position));
        }

        var message = new byte[Length];
        message[0] = Version;
        binding.AsSpan(0, BindingBytes).CopyTo(message.AsSpan(1));
        position.CopyTo(message.AsSpan(1 + BindingBytes));
        HMACSHA256.HashData(_key, message.AsSpan(0, Length - MacBytes), message.AsSpan(Length - MacBytes));
        return Base64Url.EncodeToString(message);
    }

    /// <summary>The position the cursor carries, or null with the reason it cannot be used with this query.</summary>
    public byte[]? Unprotect(string cursor, byte[] binding, out string? error)
    {
        error = Forged;
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
            error = _otherQuery;
            return null;
        }

        error = null;
        return message.AsSpan(1 + BindingBytes, _positionBytes).ToArray();
    }

    /// <summary>The binding of a query: SHA-256 over its parts, one per line (absent parts as ∅).</summary>
    public static byte[] Binding(params string?[] parts)
        => SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', parts.Select(p => p ?? "\u2205"))));
}
