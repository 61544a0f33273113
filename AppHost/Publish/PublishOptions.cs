using System.Globalization;

namespace Trulayer.AppHost.Publish;

/// <summary>How the Kubernetes manifests are written.</summary>
public sealed record PublishOptions
{
    public required string OutputDirectory { get; init; }

    /// <summary>Images are &lt;registry&gt;/trulayer-&lt;service&gt;:&lt;tag&gt;.</summary>
    public string Registry { get; init; } = "ghcr.io/trulayer";

    public string Tag { get; init; } = "latest";

    public string Namespace { get; init; } = "trulayer";

    /// <summary>The Ingress host of the gateway; none routes every host.</summary>
    public string? Host { get; init; }

    /// <summary>No PostgreSQL StatefulSet: the connection string in the Secret points at an existing server.</summary>
    public bool ExternalPostgres { get; init; }

    /// <summary>No Kafka StatefulSet: the bootstrap servers in the Secret point at an existing cluster.</summary>
    public bool ExternalKafka { get; init; }

    /// <summary>
    /// The API server the output is written for (major.minor). It decides only how closely the output
    /// matches what that server returns, so that a client-side re-apply finds nothing to change.
    /// </summary>
    public Version KubernetesVersion { get; init; } = DefaultKubernetesVersion;

    /// <summary>The version the manifests were last applied to (and re-applied) on a real cluster.</summary>
    public static readonly Version DefaultKubernetesVersion = new(1, 32);

    /// <summary>The oldest API server the manifests are written for.</summary>
    public static readonly Version OldestKubernetesVersion = new(1, 30);

    /// <summary>"1.32", "v1.32" or "1.32.4" as major.minor; null when it is none of those.</summary>
    public static Version? ParseKubernetesVersion(string text)
    {
        var parts = text.TrimStart('v').Split('.');
        return parts.Length is 2 or 3
               && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
               && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor)
               && (parts.Length == 2 || int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out _))
            ? new Version(major, minor)
            : null;
    }

    /// <summary>What in these options a cluster would refuse, each message naming the option; empty when none.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (!KubernetesNames.IsDnsLabel(Namespace))
        {
            problems.Add($"--namespace '{Namespace}' is not a DNS label (RFC 1123): at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit");
        }

        if (Host is not null && !KubernetesNames.IsIngressHost(Host))
        {
            problems.Add($"--host '{Host}' is not a DNS name (RFC 1123 subdomain, optionally starting with '*.')");
        }

        if (!KubernetesNames.IsImageTag(Tag))
        {
            problems.Add($"--tag '{Tag}' is not an image tag: at most 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'");
        }

        if (KubernetesVersion < OldestKubernetesVersion)
        {
            problems.Add($"--kubernetes-version {KubernetesVersion} is older than {OldestKubernetesVersion}, the oldest the manifests are written for");
        }

        return problems;
    }
}
