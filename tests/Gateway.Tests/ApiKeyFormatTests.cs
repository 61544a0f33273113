using System.Buffers.Text;
using System.Security.Cryptography;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Gateway.Tests;

/// <summary>The key format the gateway checks without asking Auth.Api (ServiceDefaults' ApiKeyFormat).</summary>
public sealed class ApiKeyFormatTests
{
    [Fact]
    public void Checksum_IsCrc32C()
        => Assert.Equal(0xE3069283u, ApiKeyFormat.Checksum("123456789")); // the CRC-32C check value (RFC 3720, B.4)

    [Fact]
    public void Generate_Makes52LettersAndDigits_WithAMatchingChecksum()
    {
        var keys = Enumerable.Range(0, 1000).Select(_ => ApiKeyFormat.Generate()).ToList();

        Assert.All(keys, key =>
        {
            Assert.Equal(52, key.Length);
            Assert.StartsWith("tl_", key, StringComparison.Ordinal);
            Assert.True(key[3..].All(char.IsAsciiLetterOrDigit), key);
            Assert.Equal(ApiKeyShape.Checksummed, ApiKeyFormat.Check(key));
        });
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
        // Every base62 character turns up in the secrets (a uniform choice of 62).
        Assert.Equal(62, keys.SelectMany(k => k[3..46]).Distinct().Count());
    }

    [Fact]
    public void AnyOneCharacterChanged_FailsTheChecksum()
    {
        const string Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        var key = ApiKeyFormat.Generate();

        for (var i = 3; i < key.Length; i++)
        {
            foreach (var replacement in Base62.Where(c => c != key[i]))
            {
                var typo = key[..i] + replacement + key[(i + 1)..];
                Assert.Equal(ApiKeyShape.ChecksumMismatch, ApiKeyFormat.Check(typo));
            }
        }
    }

    [Fact]
    public void TwoCharactersSwapped_FailTheChecksum()
    {
        var key = ApiKeyFormat.Generate();

        for (var i = 3; i < key.Length - 1; i++)
        {
            if (key[i] != key[i + 1])
            {
                var swapped = key[..i] + key[i + 1] + key[i] + key[(i + 2)..];
                Assert.Equal(ApiKeyShape.ChecksumMismatch, ApiKeyFormat.Check(swapped));
            }
        }
    }

    [Fact]
    public void KeysOfTheFormerFormat_AreLegacy()
    {
        for (var i = 0; i < 1000; i++)
        {
            var key = "tl_" + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
            Assert.Equal(ApiKeyShape.Legacy, ApiKeyFormat.Check(key));
        }
    }

    [Fact]
    public void RandomStringsOfTheFormerShape_AreMostlyMalformed()
    {
        // 43 random base64url characters: only those whose last character leaves 2 zero bits decode to 32 bytes.
        const string Base64UrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        var legacy = Enumerable.Range(0, 16_000)
            .Select(_ => "tl_" + RandomNumberGenerator.GetString(Base64UrlAlphabet, 43))
            .Count(k => ApiKeyFormat.Check(k) == ApiKeyShape.Legacy);

        Assert.InRange(legacy, 3600, 4400); // one in 4: 16 of the 64 characters can end a key
    }

    public static TheoryData<string> NeitherFormat() =>
    [
        "",
        "tl_",
        "tl_short",
        "TL_" + new string('A', 43),
        "tl_" + new string('A', 44),
        "tl_" + new string('A', 42) + "=",          // padding is not part of a key
        "tl_" + new string('A', 42) + "-" + new string('A', 6), // the current length, a character base62 lacks
        "eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
    ];

    [Theory]
    [MemberData(nameof(NeitherFormat))]
    public void Check_NeitherFormat_IsMalformed(string key)
        => Assert.Equal(ApiKeyShape.Malformed, ApiKeyFormat.Check(key));

    [Fact]
    public void Refusal_SaysWhatIsWrong_AndNothingForAKeyWorthALookUp()
    {
        Assert.Contains("checksum", ApiKeyFormat.Refusal(ApiKeyShape.ChecksumMismatch), StringComparison.Ordinal);
        Assert.Contains("malformed", ApiKeyFormat.Refusal(ApiKeyShape.Malformed), StringComparison.Ordinal);
        Assert.Null(ApiKeyFormat.Refusal(ApiKeyShape.Checksummed));
        Assert.Null(ApiKeyFormat.Refusal(ApiKeyShape.Legacy));
    }
}
