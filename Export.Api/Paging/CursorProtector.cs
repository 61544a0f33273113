using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Trulayer.Export.Paging;

/// <summary>Which listing a cursor pages through.</summary>
internal enum CursorKind : byte
{
    Export = 1,
    TraceList = 2,
    LogExport = 3,
    LogList = 4,
    SpanList = 5,
    SessionList = 6,
}

/// <summary>What checking a cursor found.</summary>
internal enum CursorCheck
{
    Valid,

    /// <summary>Not a cursor this service signed (altered, truncated, or signed with another key).</summary>
    Altered,

    /// <summary>Genuine, but handed out for other parameters (another window, project set, limit or filter) or another listing.</summary>
    OtherQuery,
}

/// <summary>
/// Signs and checks cursors: <c>base64url(version | kind | binding | payload | HMAC-SHA256)</c> with the key
/// of Export:CursorKey. The binding is a hash of the query the cursor belongs to, so a genuine cursor used
/// with other parameters is recognized as such, and the MAC makes any alteration evident.
/// </summary>
internal sealed class CursorProtector(IOptions<ExportOptions> options)
{
    private const byte Version = 1;
    private const int BindingBytes = 16;
    private const int MacBytes = 32;
    private const int HeaderBytes = 2 + BindingBytes;

    private readonly byte[] _key = options.Value.CursorKeyBytes();

    /// <summary>The binding of a query: a hash of its canonical parts (see <see cref="QueryBinding"/>).</summary>
    public string Protect(CursorKind kind, byte[] binding, ReadOnlySpan<byte> payload)
    {
        var message = new byte[HeaderBytes + payload.Length + MacBytes];
        message[0] = Version;
        message[1] = (byte)kind;
        binding.AsSpan(0, BindingBytes).CopyTo(message.AsSpan(2));
        payload.CopyTo(message.AsSpan(HeaderBytes));
        HMACSHA256.HashData(_key, message.AsSpan(0, message.Length - MacBytes), message.AsSpan(message.Length - MacBytes));
        return Base64Url.EncodeToString(message);
    }

    public CursorCheck Unprotect(string cursor, CursorKind kind, byte[] binding, out byte[] payload)
    {
        payload = [];
        byte[] message;
        try
        {
            message = Base64Url.DecodeFromChars(cursor);
        }
        catch (FormatException)
        {
            return CursorCheck.Altered;
        }

        if (message.Length < HeaderBytes + MacBytes)
        {
            return CursorCheck.Altered;
        }

        Span<byte> mac = stackalloc byte[MacBytes];
        HMACSHA256.HashData(_key, message.AsSpan(0, message.Length - MacBytes), mac);
        if (!CryptographicOperations.FixedTimeEquals(mac, message.AsSpan(message.Length - MacBytes)) || message[0] != Version)
        {
            return CursorCheck.Altered;
        }

        if (message[1] != (byte)kind || !message.AsSpan(2, BindingBytes).SequenceEqual(binding.AsSpan(0, BindingBytes)))
        {
            return CursorCheck.OtherQuery;
        }

        payload = message[HeaderBytes..^MacBytes];
        return CursorCheck.Valid;
    }
}

/// <summary>Builds the binding of a query: SHA-256 over its canonical parts, in order.</summary>
internal sealed class QueryBinding
{
    private readonly StringBuilder _text = new();

    public QueryBinding Add(string name, object? value)
    {
        _text.Append(name).Append('=').Append(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "\u2205").Append('\n');
        return this;
    }

    public QueryBinding Add(string name, IEnumerable<Guid> values) => Add(name, string.Join(',', values.Select(v => v.ToString("N"))));

    public byte[] Hash() => SHA256.HashData(Encoding.UTF8.GetBytes(_text.ToString()));
}
