using Microsoft.Extensions.Options;

namespace Trulayer.ServiceDefaults.Identity;

/// <summary>The "Identity" section: the HMAC key the gateway signs assertions with and services verify.</summary>
public sealed class IdentityOptions
{
    public const string SectionName = "Identity";

    /// <summary>Base64 of at least 32 random bytes, shared by the gateway and every service. A secret.</summary>
    public string AssertionKey { get; set; } = "";

    /// <summary>How long a signed assertion stays valid; one request's hop from the gateway to a service.</summary>
    public TimeSpan AssertionLifetime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Tolerated difference between the gateway's clock and a service's.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(5);

    internal byte[] KeyBytes() => Convert.FromBase64String(AssertionKey);
}

internal sealed class IdentityOptionsValidator : IValidateOptions<IdentityOptions>
{
    public const int MinimumKeyBytes = 32;

    public ValidateOptionsResult Validate(string? name, IdentityOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.AssertionKey))
        {
            return ValidateOptionsResult.Fail(
                "Identity:AssertionKey is missing: set it to base64 of at least 32 random bytes, the same value " +
                "for the gateway and every service (e.g. Identity__AssertionKey=$(openssl rand -base64 32)).");
        }

        byte[] key;
        try
        {
            key = options.KeyBytes();
        }
        catch (FormatException)
        {
            return ValidateOptionsResult.Fail("Identity:AssertionKey is not valid base64.");
        }

        if (key.Length < MinimumKeyBytes)
        {
            return ValidateOptionsResult.Fail($"Identity:AssertionKey holds {key.Length} bytes; it needs at least {MinimumKeyBytes}.");
        }

        if (options.AssertionLifetime <= TimeSpan.Zero || options.AssertionLifetime > TimeSpan.FromMinutes(5))
        {
            return ValidateOptionsResult.Fail($"Identity:AssertionLifetime must be between 0 and 5 minutes (got {options.AssertionLifetime}).");
        }

        return ValidateOptionsResult.Success;
    }
}
