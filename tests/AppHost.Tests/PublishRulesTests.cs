using Trulayer.AppHost.Publish;

namespace Trulayer.AppHost.Tests;

/// <summary>The rules the publisher and the manifest checks share: how kubectl reads a scalar, which names a cluster takes.</summary>
public sealed class PublishRulesTests
{
    [Theory]
    [InlineData("on", PlainScalarKind.Bool, true)]
    [InlineData("Off", PlainScalarKind.Bool, false)]
    [InlineData("y", PlainScalarKind.Bool, true)]
    [InlineData("NO", PlainScalarKind.Bool, false)]
    [InlineData("True", PlainScalarKind.Bool, true)]
    [InlineData("~", PlainScalarKind.Null, null)]
    [InlineData("", PlainScalarKind.Null, null)]
    [InlineData("Null", PlainScalarKind.Null, null)]
    [InlineData("10000", PlainScalarKind.Int, 10000L)]
    [InlineData("010", PlainScalarKind.Int, 8L)]
    [InlineData("0x1F", PlainScalarKind.Int, 31L)]
    [InlineData("0o17", PlainScalarKind.Int, 15L)]
    [InlineData("0b101", PlainScalarKind.Int, 5L)]
    [InlineData("1_000", PlainScalarKind.Int, 1000L)]
    [InlineData("-42", PlainScalarKind.Int, -42L)]
    [InlineData("+7", PlainScalarKind.Int, 7L)]
    [InlineData("18446744073709551615", PlainScalarKind.Int, ulong.MaxValue)]
    [InlineData("08", PlainScalarKind.Float, 8.0)]
    [InlineData("1e3", PlainScalarKind.Float, 1000.0)]
    [InlineData(".5", PlainScalarKind.Float, 0.5)]
    [InlineData("-1.5", PlainScalarKind.Float, -1.5)]
    [InlineData("+.inf", PlainScalarKind.Float, double.PositiveInfinity)]
    [InlineData("2024-01-02", PlainScalarKind.Timestamp, "2024-01-02")]
    [InlineData("2024-1-2T03:04:05Z", PlainScalarKind.Timestamp, "2024-1-2T03:04:05Z")]
    [InlineData("json", PlainScalarKind.String, "json")]
    [InlineData("1:20", PlainScalarKind.String, "1:20")]
    [InlineData("250m", PlainScalarKind.String, "250m")]
    [InlineData("0.0.0.0", PlainScalarKind.String, "0.0.0.0")]
    [InlineData("0x", PlainScalarKind.String, "0x")]
    [InlineData("-", PlainScalarKind.String, "-")]
    [InlineData("Infinity", PlainScalarKind.String, "Infinity")]
    [InlineData("yes!", PlainScalarKind.String, "yes!")]
    [InlineData("ghcr.io/trulayer/trulayer-gateway:1.0", PlainScalarKind.String, "ghcr.io/trulayer/trulayer-gateway:1.0")]
    public void PlainScalar_ResolvesAsKubectlsYamlReaderDoes(string text, PlainScalarKind kind, object? value)
    {
        var resolved = PlainScalar.Resolve(text);

        Assert.Equal(kind, resolved.Kind);
        Assert.Equal(value, resolved.Value);
    }

    [Theory]
    [InlineData("trulayer", true)]
    [InlineData("kafka-0", true)]
    [InlineData("4317-otlp", true)]
    [InlineData("Trulayer", false)]
    [InlineData("-trulayer", false)]
    [InlineData("trulayer-", false)]
    [InlineData("tru_layer", false)]
    [InlineData("tru.layer", false)]
    [InlineData("", false)]
    [InlineData("abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefgh", true)]
    [InlineData("abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghi", false)]
    public void IsDnsLabel_FollowsRfc1123(string name, bool valid) => Assert.Equal(valid, KubernetesNames.IsDnsLabel(name));

    [Theory]
    [InlineData("gateway-otlp-grpc", true)]
    [InlineData("4317-otlp", false)]
    public void IsServiceName_StartsWithALetter(string name, bool valid) => Assert.Equal(valid, KubernetesNames.IsServiceName(name));

    [Theory]
    [InlineData("http", true)]
    [InlineData("http-2", true)]
    [InlineData("1234", false)]
    [InlineData("a--b", false)]
    [InlineData("grpc-h2c-cleartx", false)]
    [InlineData("grpc-h2c-clear", true)]
    public void IsPortName_IsAnIanaServiceName(string name, bool valid) => Assert.Equal(valid, KubernetesNames.IsPortName(name));

    [Theory]
    [InlineData("traces.example.com", true)]
    [InlineData("*.example.com", true)]
    [InlineData("Traces.example.com", false)]
    [InlineData("traces..example.com", false)]
    [InlineData("traces.example.com:443", false)]
    public void IsIngressHost_IsASubdomainOrAWildcard(string host, bool valid) => Assert.Equal(valid, KubernetesNames.IsIngressHost(host));

    [Theory]
    [InlineData("connection-string-kafka", true)]
    [InlineData("a.b_c", true)]
    [InlineData("a/b", false)]
    [InlineData("..", false)]
    public void IsConfigKey_TakesWhatASecretTakes(string key, bool valid) => Assert.Equal(valid, KubernetesNames.IsConfigKey(key));

    [Theory]
    [InlineData("1.32", 1, 32)]
    [InlineData("v1.33", 1, 33)]
    [InlineData("1.32.4", 1, 32)]
    public void ParseKubernetesVersion_TakesMajorMinor(string text, int major, int minor)
        => Assert.Equal(new Version(major, minor), PublishOptions.ParseKubernetesVersion(text));

    [Theory]
    [InlineData("1")]
    [InlineData("one.two")]
    [InlineData("1.32.4.1")]
    [InlineData("1.-3")]
    public void ParseKubernetesVersion_RefusesWhatIsNoVersion(string text) => Assert.Null(PublishOptions.ParseKubernetesVersion(text));

    [Fact]
    public void Problems_NameEveryBadOption()
    {
        var options = new PublishOptions
        {
            OutputDirectory = "/nonexistent",
            Namespace = "Trulayer",
            Host = "traces.example.com:443",
            Tag = "-1",
            KubernetesVersion = new Version(1, 29),
        };

        Assert.Collection(
            options.Problems(),
            p => Assert.StartsWith("--namespace 'Trulayer'", p, StringComparison.Ordinal),
            p => Assert.StartsWith("--host 'traces.example.com:443'", p, StringComparison.Ordinal),
            p => Assert.StartsWith("--tag '-1'", p, StringComparison.Ordinal),
            p => Assert.StartsWith("--kubernetes-version 1.29", p, StringComparison.Ordinal));
        Assert.Empty(new PublishOptions { OutputDirectory = "/nonexistent", Host = "*.example.com", Tag = "1.2.3" }.Problems());
    }
}
