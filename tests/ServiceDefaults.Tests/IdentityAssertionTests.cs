using System.Text;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.ServiceDefaults.Tests;

public sealed class IdentityAssertionTests
{
    private static readonly string Key = Convert.ToBase64String(Encoding.ASCII.GetBytes("0123456789abcdef0123456789abcdef"));
    private readonly ManualTimeProvider _time = new(DateTimeOffset.Parse("2026-11-22T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    private IdentityAssertionSigner Signer(string? key = null) => new(Options.Create(new IdentityOptions { AssertionKey = key ?? Key }), _time);

    private IdentityAssertionVerifier Verifier() => new(Options.Create(new IdentityOptions { AssertionKey = Key }), _time);

    [Fact]
    public void Verify_SignedSession_ReturnsTheSameCaller()
    {
        var projects = new[] { Guid.NewGuid(), Guid.NewGuid() };
        var caller = new CallerIdentity(CallerKind.Session, Guid.NewGuid(), projects, Roles.Viewer, "user_1");

        var verified = Verifier().Verify(Signer().Sign(caller), out var error);

        Assert.NotNull(verified);
        Assert.Equal("", error);
        Assert.Equal(caller.Kind, verified.Kind);
        Assert.Equal(caller.OrganizationId, verified.OrganizationId);
        Assert.Equal(projects, verified.ProjectIds);
        Assert.Equal(Roles.Viewer, verified.Role);
        Assert.Equal("user_1", verified.Subject);
        Assert.Null(verified.ApiKeyId);
    }

    [Fact]
    public void Verify_SignedApiKey_KeepsKeyIdAndSingleProject()
    {
        var keyId = Guid.NewGuid();
        var project = Guid.NewGuid();
        var caller = new CallerIdentity(CallerKind.ApiKey, Guid.NewGuid(), [project], ApiKeyId: keyId);

        var verified = Verifier().Verify(Signer().Sign(caller), out _);

        Assert.NotNull(verified);
        Assert.Equal(CallerKind.ApiKey, verified.Kind);
        Assert.Equal(keyId, verified.ApiKeyId);
        Assert.True(verified.CanAccess(project));
        Assert.False(verified.CanAccess(Guid.NewGuid()));
    }

    [Fact]
    public void Verify_ContentPolicies_TravelWithTheCaller()
    {
        var redacted = Guid.NewGuid();
        var dropped = Guid.NewGuid();
        var stored = Guid.NewGuid();
        var caller = new CallerIdentity(CallerKind.Session, Guid.NewGuid(), [redacted, dropped, stored], Roles.Member, "user_1", ContentPolicies: new Dictionary<Guid, ContentPolicy>
        {
            [redacted] = new(ContentMode.Redact, ["ACME-[0-9]{6}"]),
            [dropped] = new(ContentMode.Drop, []),
        });

        // Through the request principal too: ContentPolicyEndToEndTests (ingest reads the caller from it).
        var read = Verifier().Verify(Signer().Sign(caller), out _)!;

        Assert.Equal(ContentMode.Redact, read.ContentPolicyFor(redacted).Mode);
        Assert.Equal(["ACME-[0-9]{6}"], read.ContentPolicyFor(redacted).Patterns);
        Assert.Equal(ContentMode.Drop, read.ContentPolicyFor(dropped).Mode);
        Assert.Equal(ContentMode.Store, read.ContentPolicyFor(stored).Mode);
    }

    [Fact]
    public void Verify_PayloadChanged_IsRejected()
    {
        var assertion = Signer().Sign(new CallerIdentity(CallerKind.Session, Guid.NewGuid(), [Guid.NewGuid()], Roles.Viewer));
        var parts = assertion.Split('.');
        var json = Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1])).Replace("viewer", "owner", StringComparison.Ordinal);
        var forged = $"{parts[0]}.{System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json))}.{parts[2]}";

        Assert.Null(Verifier().Verify(forged, out var error));
        Assert.Contains("signature", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_SignedWithAnotherKey_IsRejected()
    {
        var otherKey = Convert.ToBase64String(Encoding.ASCII.GetBytes("another key that is 32 bytes long"));
        var assertion = Signer(otherKey).Sign(new CallerIdentity(CallerKind.ApiKey, Guid.NewGuid(), [Guid.NewGuid()]));

        Assert.Null(Verifier().Verify(assertion, out var error));
        Assert.Contains("signature", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_AfterLifetimeAndSkew_IsExpired()
    {
        var assertion = Signer().Sign(new CallerIdentity(CallerKind.ApiKey, Guid.NewGuid(), [Guid.NewGuid()]));
        _time.Advance(TimeSpan.FromSeconds(30 + 4));
        Assert.NotNull(Verifier().Verify(assertion, out _));

        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Null(Verifier().Verify(assertion, out var error));
        Assert.Contains("expired", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "missing X-Trulayer-Identity")]
    [InlineData("", "missing X-Trulayer-Identity")]
    [InlineData("v1.abc", "malformed")]
    [InlineData("v2.abc.def", "malformed")]
    [InlineData("v1.!!!.???", "malformed")]
    public void Verify_Malformed_SaysWhy(string? assertion, string expected)
    {
        Assert.Null(Verifier().Verify(assertion, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }
}

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
