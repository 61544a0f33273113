using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Testing;

/// <summary>
/// Identity assertions for tests that call a service directly, signed with ServiceDefaults' own signer
/// and a key generated for the test run; services under test are configured with <see cref="AssertionKey"/>.
/// </summary>
public static class TestIdentity
{
    public static string AssertionKey { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private static readonly IdentityAssertionSigner Signer = new(
        Options.Create(new IdentityOptions { AssertionKey = AssertionKey }), TimeProvider.System);

    /// <summary>The configuration a service under test needs to verify <see cref="Sign"/>'s assertions.</summary>
    public static KeyValuePair<string, string?> Configuration => new("Identity:AssertionKey", AssertionKey);

    public static string Sign(CallerIdentity caller) => Signer.Sign(caller);

    /// <summary>An SDK's API key of <paramref name="projectId"/>.</summary>
    public static CallerIdentity ApiKey(Guid projectId, Guid? organizationId = null)
        => new(CallerKind.ApiKey, organizationId ?? Guid.NewGuid(), [projectId], ApiKeyId: Guid.NewGuid());

    /// <summary>A dashboard session with <paramref name="role"/> in an organization owning <paramref name="projectIds"/>.</summary>
    public static CallerIdentity Session(string role, Guid organizationId, params Guid[] projectIds)
        => new(CallerKind.Session, organizationId, projectIds, role, Subject: "user_" + Guid.NewGuid().ToString("N")[..8]);
}
