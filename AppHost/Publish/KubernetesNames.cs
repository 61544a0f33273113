using System.Text.RegularExpressions;

namespace Trulayer.AppHost.Publish;

/// <summary>The name rules the API server enforces that a schema does not (apimachinery's validation).</summary>
public static partial class KubernetesNames
{
    /// <summary>RFC 1123 label: namespaces, container, volume and most object names.</summary>
    public static bool IsDnsLabel(string name) => name.Length <= 63 && DnsLabel().IsMatch(name);

    /// <summary>RFC 1035 label (an RFC 1123 label that starts with a letter): Service names.</summary>
    public static bool IsServiceName(string name) => IsDnsLabel(name) && char.IsAsciiLetterLower(name[0]);

    /// <summary>RFC 1123 subdomain: dot-separated labels, at most 253 characters.</summary>
    public static bool IsDnsSubdomain(string name) => name.Length <= 253 && name.Split('.').All(IsDnsLabel);

    /// <summary>An Ingress rule's host: an RFC 1123 subdomain, or one behind a leading "*.".</summary>
    public static bool IsIngressHost(string host) => IsDnsSubdomain(host.StartsWith("*.", StringComparison.Ordinal) ? host[2..] : host);

    /// <summary>A port name (IANA service name): at most 15 lowercase letters, digits and '-', with a letter, no "--", no '-' at either end.</summary>
    public static bool IsPortName(string name)
        => name.Length is > 0 and <= 15 && DnsLabel().IsMatch(name) && name.Any(char.IsAsciiLetterLower) && !name.Contains("--", StringComparison.Ordinal);

    /// <summary>A key of a Secret's or ConfigMap's data.</summary>
    public static bool IsConfigKey(string key) => key.Length <= 253 && key is not ("." or "..") && ConfigKey().IsMatch(key);

    /// <summary>A container image tag as the OCI distribution spec allows it.</summary>
    public static bool IsImageTag(string tag) => ImageTag().IsMatch(tag);

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex("^[-._a-zA-Z0-9]+$")]
    private static partial Regex ConfigKey();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex ImageTag();
}
