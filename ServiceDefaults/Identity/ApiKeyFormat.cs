using System.Numerics;
using System.Security.Cryptography;

namespace Trulayer.ServiceDefaults.Identity;

/// <summary>What a string that starts with <c>tl_</c> looks like, before anyone looks it up.</summary>
public enum ApiKeyShape
{
    /// <summary>A key of the current format whose checksum matches: worth looking up.</summary>
    Checksummed,

    /// <summary>A key of the format issued before the checksum (tl_ + 32 bytes in base64url): worth looking up.</summary>
    Legacy,

    /// <summary>The current format's length and letters, but the checksum does not match: mistyped or made up.</summary>
    ChecksumMismatch,

    /// <summary>Neither format.</summary>
    Malformed,
}

/// <summary>
/// The API key format, shared by Auth.Api (which issues and stores keys) and the gateway (which refuses a
/// forged or mistyped key without asking anyone), as GitHub's tokens carry a CRC-32 of themselves:
/// <c>tl_</c> + 43 random base62 characters (256 bits) + 6 base62 characters of the CRC-32C of those 43,
/// 52 characters in all, letters and digits only (a double click selects the whole key). The checksum is
/// no secret and no signature: it refuses random and mistyped keys for free, one in 4 billion passes by
/// chance; a key made up by someone who knows this format passes it and is refused by Auth.Api, which the
/// gateway's refusal cache and per-address limit on failed authentications keep cheap.
/// Keys issued before (<see cref="ApiKeyShape.Legacy"/>) are <c>tl_</c> + 43 characters of base64url,
/// 46 in all: a length no current key has. Their last character is one of 16, not 64 (32 bytes leave its
/// 2 low bits zero), so 3 in 4 random strings of that shape are refused without a lookup too.
/// </summary>
public static class ApiKeyFormat
{
    public const string Prefix = "tl_";

    /// <summary>Random characters: 43 × log2(62) = 256.03 bits.</summary>
    public const int SecretLength = 43;

    /// <summary>Base62 digits of the checksum: 62^6 is more than 2^32.</summary>
    public const int ChecksumLength = 6;

    public const int Length = 3 + SecretLength + ChecksumLength;

    /// <summary>tl_ + base64url of 32 bytes, unpadded.</summary>
    public const int LegacyLength = 3 + 43;

    private const string Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// <summary>A new key (RandomNumberGenerator: each of the 62 characters equally likely).</summary>
    public static string Generate()
    {
        Span<char> key = stackalloc char[Length];
        Prefix.CopyTo(key);
        var secret = key.Slice(Prefix.Length, SecretLength);
        RandomNumberGenerator.GetItems(Base62, secret);
        WriteChecksum(secret, key[(Prefix.Length + SecretLength)..]);
        return new string(key);
    }

    /// <summary>The shape of <paramref name="key"/>; only <see cref="ApiKeyShape.Checksummed"/> and <see cref="ApiKeyShape.Legacy"/> are worth a lookup.</summary>
    public static ApiKeyShape Check(ReadOnlySpan<char> key)
    {
        if (!key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return ApiKeyShape.Malformed;
        }

        var body = key[Prefix.Length..];
        if (key.Length == Length)
        {
            foreach (var c in body)
            {
                if (!char.IsAsciiLetterOrDigit(c))
                {
                    return ApiKeyShape.Malformed;
                }
            }

            Span<char> expected = stackalloc char[ChecksumLength];
            WriteChecksum(body[..SecretLength], expected);
            return expected.SequenceEqual(body[SecretLength..]) ? ApiKeyShape.Checksummed : ApiKeyShape.ChecksumMismatch;
        }

        if (key.Length == LegacyLength)
        {
            var last = -1;
            foreach (var c in body)
            {
                last = Base64UrlValue(c);
                if (last < 0)
                {
                    return ApiKeyShape.Malformed;
                }
            }

            return (last & 3) == 0 ? ApiKeyShape.Legacy : ApiKeyShape.Malformed;
        }

        return ApiKeyShape.Malformed;
    }

    /// <summary>Why a key of <paramref name="shape"/> is refused without a lookup; null when it is worth one.</summary>
    public static string? Refusal(ApiKeyShape shape) => shape switch
    {
        ApiKeyShape.ChecksumMismatch =>
            "the API key's checksum does not match: it was mistyped, cut short or made up; copy the key again whole, or create a new one",
        ApiKeyShape.Malformed =>
            $"the API key is malformed: a key is '{Prefix}' followed by {SecretLength + ChecksumLength} letters and digits, as shown when it was created",
        _ => null,
    };

    /// <summary>CRC-32C (Castagnoli, as iSCSI and ext4 use it; the CPU's crc32 instruction where there is one) of the secret's ASCII.</summary>
    public static uint Checksum(ReadOnlySpan<char> secret)
    {
        var crc = uint.MaxValue;
        foreach (var c in secret)
        {
            crc = BitOperations.Crc32C(crc, (byte)c);
        }

        return ~crc;
    }

    private static void WriteChecksum(ReadOnlySpan<char> secret, Span<char> destination)
    {
        var value = Checksum(secret);
        for (var i = ChecksumLength - 1; i >= 0; i--)
        {
            destination[i] = Base62[(int)(value % 62)];
            value /= 62;
        }
    }

    private static int Base64UrlValue(char c) => c switch
    {
        >= 'A' and <= 'Z' => c - 'A',
        >= 'a' and <= 'z' => c - 'a' + 26,
        >= '0' and <= '9' => c - '0' + 52,
        '-' => 62,
        '_' => 63,
        _ => -1,
    };
}
