using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;
using OpenTelemetry.Proto.Common.V1;

namespace Trulayer.Otlp.GenAi;

/// <summary>
/// What makes <c>attr.&lt;key&gt;=&lt;value&gt;</c> filters indexable without storing the attributes a
/// second time: each span attribute as one 32-bit hash of <c>key=value</c>, the same number PostgreSQL's
/// <c>hashtext(key || '=' || value)</c> gives, so a query (or a person at psql) computes it in SQL as
/// well as here. Hashes collide: a match is a candidate, confirmed against the span itself.
/// <para>The value's text: a string as it is; <c>true</c>/<c>false</c>; an int in decimal; a double in
/// .NET's shortest round-trip form (<c>0.2</c>, <c>1E+20</c>, <c>NaN</c>); bytes in base64; an array or
/// map as <see cref="AttributeJson"/> writes it. An attribute without a value has no hash.</para>
/// </summary>
public static class AttributeHash
{
    /// <summary>The hash of <paramref name="key"/>=<paramref name="value"/>, or null when the attribute has no value.</summary>
    public static int? Of(string key, AnyValue? value)
    {
        var text = ValueText(value);
        return text is null ? null : HashText(key + "=" + text);
    }

    /// <summary>The text a value is hashed as; null for an empty value.</summary>
    public static string? ValueText(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString("R", CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.BytesValue => Convert.ToBase64String(value.BytesValue.Span),
        AnyValue.ValueOneofCase.ArrayValue or AnyValue.ValueOneofCase.KvlistValue => AttributeJson.ToJson(value),
        _ => null,
    };

    /// <summary>PostgreSQL's <c>hashtext(text)</c> of <paramref name="text"/> (deterministic collation).</summary>
    public static int HashText(string text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        var rented = length <= 512 ? null : ArrayPool<byte>.Shared.Rent(length);
        var buffer = rented is null ? stackalloc byte[length] : rented.AsSpan(0, length);
        try
        {
            Encoding.UTF8.GetBytes(text, buffer);
            return HashText(buffer);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// PostgreSQL's <c>hash_bytes</c> (src/common/hashfn.c: Bob Jenkins' lookup3 with PostgreSQL's seed and
    /// tail), over UTF-8 text: what <c>hashtext</c> returns on the little-endian machines PostgreSQL runs on.
    /// </summary>
    public static int HashText(ReadOnlySpan<byte> utf8)
    {
        uint a, b, c;
        a = b = c = 0x9e3779b9 + (uint)utf8.Length + 3923095;
        var k = utf8;
        while (k.Length >= 12)
        {
            a += BinaryPrimitives.ReadUInt32LittleEndian(k);
            b += BinaryPrimitives.ReadUInt32LittleEndian(k[4..]);
            c += BinaryPrimitives.ReadUInt32LittleEndian(k[8..]);
            Mix(ref a, ref b, ref c);
            k = k[12..];
        }

        // The last 11 bytes; the lowest byte of c is left for the length (added to the seed above).
        switch (k.Length)
        {
            case 11:
                c += (uint)k[10] << 24;
                goto case 10;
            case 10:
                c += (uint)k[9] << 16;
                goto case 9;
            case 9:
                c += (uint)k[8] << 8;
                goto case 8;
            case 8:
                b += (uint)k[7] << 24;
                goto case 7;
            case 7:
                b += (uint)k[6] << 16;
                goto case 6;
            case 6:
                b += (uint)k[5] << 8;
                goto case 5;
            case 5:
                b += k[4];
                goto case 4;
            case 4:
                a += (uint)k[3] << 24;
                goto case 3;
            case 3:
                a += (uint)k[2] << 16;
                goto case 2;
            case 2:
                a += (uint)k[1] << 8;
                goto case 1;
            case 1:
                a += k[0];
                break;
        }

        c ^= b;
        c -= BitOperations.RotateLeft(b, 14);
        a ^= c;
        a -= BitOperations.RotateLeft(c, 11);
        b ^= a;
        b -= BitOperations.RotateLeft(a, 25);
        c ^= b;
        c -= BitOperations.RotateLeft(b, 16);
        a ^= c;
        a -= BitOperations.RotateLeft(c, 4);
        b ^= a;
        b -= BitOperations.RotateLeft(a, 14);
        c ^= b;
        c -= BitOperations.RotateLeft(b, 24);
        return unchecked((int)c);
    }

    private static void Mix(ref uint a, ref uint b, ref uint c)
    {
        a -= c;
        a ^= BitOperations.RotateLeft(c, 4);
        c += b;
        b -= a;
        b ^= BitOperations.RotateLeft(a, 6);
        a += c;
        c -= b;
        c ^= BitOperations.RotateLeft(b, 8);
        b += a;
        a -= c;
        a ^= BitOperations.RotateLeft(c, 16);
        c += b;
        b -= a;
        b ^= BitOperations.RotateLeft(a, 19);
        a += c;
        c -= b;
        c ^= BitOperations.RotateLeft(b, 4);
        b += a;
    }
}
