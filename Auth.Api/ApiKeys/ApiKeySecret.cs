using System.Security.Cryptography;
using System.Text;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.ApiKeys;

/// <summary>
/// How Auth.Api issues and stores API keys; their format (a checksummed secret, and the format issued
/// before) is <see cref="ApiKeyFormat"/>, which the gateway checks too. Keys are random enough that one
/// SHA-256 is a safe way to store them (no password-style stretching needed); the first characters after
/// <c>tl_</c> are stored in the clear to find the row and to show the key in lists.
/// </summary>
public static class ApiKeySecret
{
    public const string Prefix = ApiKeyFormat.Prefix;

    /// <summary>Random bytes of a key of the format before the checksum (base64url, 43 characters).</summary>
    public const int SecretBytes = 32;

    /// <summary>Characters of the key kept in the clear: "tl_" and 8 of the secret (about 48 bits, not enough to guess the rest).</summary>
    public const int LookupPrefixLength = 3 + 8;

    public static string Generate() => ApiKeyFormat.Generate();

    /// <summary>Whether <paramref name="key"/> has the shape of a key, either format (not whether it exists).</summary>
    public static bool IsWellFormed(string? key) => key is not null && ApiKeyFormat.Check(key) is ApiKeyShape.Checksummed or ApiKeyShape.Legacy;

    public static string LookupPrefix(string key) => key[..LookupPrefixLength];

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.ASCII.GetBytes(key));
}
