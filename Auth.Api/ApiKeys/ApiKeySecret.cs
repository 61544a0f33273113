using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Trulayer.Auth.ApiKeys;

/// <summary>
/// The API key format: <c>tl_</c> + base64url of 32 random bytes. Keys are random enough that one
/// SHA-256 is a safe way to store them (no password-style stretching needed); the first characters
/// after <c>tl_</c> are stored in the clear to find the row and to show the key in lists.
/// </summary>
public static class ApiKeySecret
{
    public const string Prefix = "tl_";
    public const int SecretBytes = 32;

    /// <summary>Characters of the key kept in the clear: "tl_" and 8 of the secret (48 bits, not enough to guess the rest).</summary>
    public const int LookupPrefixLength = 3 + 8;

    private const int MinimumLength = 3 + 43;
    private const int MaximumLength = 256;

    public static string Generate() => Prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(SecretBytes));

    /// <summary>Whether <paramref name="key"/> has the shape of a key (not whether it exists).</summary>
    public static bool IsWellFormed(string? key)
    {
        if (key is null || key.Length is < MinimumLength or > MaximumLength || !key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in key.AsSpan(Prefix.Length))
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return false;
            }
        }

        return true;
    }

    public static string LookupPrefix(string key) => key[..LookupPrefixLength];

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.ASCII.GetBytes(key));
}
