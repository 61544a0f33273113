using Microsoft.Extensions.Configuration;

namespace Trulayer.Gateway.Tests;

public sealed class GatewayOptionsTests
{
    [Fact]
    public void Defaults_KeepVerdictsAtMost30Seconds_AndValidate()
    {
        var options = new GatewayOptions();

        Assert.InRange(options.CredentialCacheTtl, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(30));
        Assert.True(new GatewayOptionsValidator().Validate(null, options).Succeeded);
    }

    [Theory]
    [InlineData("00:00:31")]
    [InlineData("00:00:00")]
    public void CredentialCacheTtl_OutsideZeroTo30Seconds_FailsNamingTheKey(string ttl)
    {
        var result = new GatewayOptionsValidator().Validate(null, new GatewayOptions { CredentialCacheTtl = TimeSpan.Parse(ttl, System.Globalization.CultureInfo.InvariantCulture) });

        Assert.True(result.Failed);
        Assert.Contains("Gateway:CredentialCacheTtl", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void RateLimit_ZeroPermits_FailsNamingTheKey()
    {
        var options = new GatewayOptions();
        options.RateLimit.ApiKey.PermitsPerSecond = 0;

        var result = new GatewayOptionsValidator().Validate(null, options);

        Assert.Contains("Gateway:RateLimit:ApiKey:PermitsPerSecond", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:31")]
    [InlineData("00:00:00")]
    public void RefusalCacheTtl_OutsideZeroTo30Seconds_FailsNamingTheKey(string ttl)
    {
        var result = new GatewayOptionsValidator().Validate(null, new GatewayOptions { RefusalCacheTtl = TimeSpan.Parse(ttl, System.Globalization.CultureInfo.InvariantCulture) });

        Assert.Contains("Gateway:RefusalCacheTtl", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(GatewayOptions.MaximumRefusalCacheSize + 1)]
    public void RefusalCacheSize_OutOfRange_FailsNamingTheKey(int size)
    {
        var result = new GatewayOptionsValidator().Validate(null, new GatewayOptions { RefusalCacheSize = size });

        Assert.Contains("Gateway:RefusalCacheSize", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 20, "Gateway:RateLimit:FailedAuthentication:PermitsPerMinute")]
    [InlineData(60, 0, "Gateway:RateLimit:FailedAuthentication:Burst")]
    public void FailedAuthenticationLimit_OutOfRange_FailsNamingTheKey(int perMinute, int burst, string key)
    {
        var options = new GatewayOptions();
        options.RateLimit.FailedAuthentication.PermitsPerMinute = perMinute;
        options.RateLimit.FailedAuthentication.Burst = burst;

        var result = new GatewayOptionsValidator().Validate(null, options);

        Assert.Contains(key, result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:11", 1000, "Gateway:RateLimit:FailedAuthentication:RefusalDelay")]
    [InlineData("-00:00:01", 1000, "Gateway:RateLimit:FailedAuthentication:RefusalDelay")]
    [InlineData("00:00:01", -1, "Gateway:RateLimit:FailedAuthentication:MaxDelayedRefusals")]
    public void DelayedRefusals_OutOfRange_FailNamingTheKey(string delay, int maxDelayed, string key)
    {
        var options = new GatewayOptions();
        options.RateLimit.FailedAuthentication.RefusalDelay = TimeSpan.Parse(delay, System.Globalization.CultureInfo.InvariantCulture);
        options.RateLimit.FailedAuthentication.MaxDelayedRefusals = maxDelayed;

        var result = new GatewayOptionsValidator().Validate(null, options);

        Assert.Contains(key, result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10.0.0.0/8", true)]
    [InlineData("127.0.0.1", true)]
    [InlineData("fd00::/8", true)]
    [InlineData("::1", true)]
    [InlineData("10.0.0.0/33", false)]
    [InlineData("proxy.example.com", false)]
    public void TrustedProxies_AddressesAndNetworksValidate_OthersFailNamingTheKey(string proxy, bool valid)
    {
        var result = new GatewayOptionsValidator().Validate(null, new GatewayOptions { TrustedProxies = ["192.168.0.0/16", proxy] });

        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.Contains("Gateway:TrustedProxies:1", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::")]
    public void ClientAddress_CountsIPv4AsItIs_AndIPv6PerSlash64(string address, string partition)
        => Assert.Equal(System.Net.IPAddress.Parse(partition), ClientAddress.Partition(System.Net.IPAddress.Parse(address)));

    [Theory]
    [InlineData("trulayer.example.com", null, "Gateway:PublicOrigin")]
    [InlineData("https://trulayer.example.com/app", null, "Gateway:PublicOrigin")]
    [InlineData(null, "ftp://files.example.com", "Gateway:AllowedOrigins:0")]
    public void Origins_NotAnOrigin_FailNamingTheKey(string? publicOrigin, string? allowed, string key)
    {
        var options = new GatewayOptions { PublicOrigin = publicOrigin, AllowedOrigins = allowed is null ? [] : [allowed] };

        var result = new GatewayOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(key, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Origins_SchemeHostAndPort_Validate()
    {
        var options = new GatewayOptions { PublicOrigin = "https://trulayer.example.com", AllowedOrigins = ["http://localhost:5173"] };

        Assert.True(new GatewayOptionsValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public void AuthInternalKey_Missing_FailsNamingTheKey()
    {
        var result = new AuthClientOptionsValidator().Validate(null, new AuthClientOptions());

        Assert.Contains("Auth:InternalKey", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void ClusterConfigs_MissingServiceAddresses_FailNamingEachSetting()
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["services:auth:http:0"] = "http://127.0.0.1:1" })
            .Build();

        var error = Assert.Throws<InvalidOperationException>(() => GatewayRoutes.ClusterConfigs(configuration));

        Assert.Contains("services__ingest__http__0", error.Message, StringComparison.Ordinal);
        Assert.Contains("services__export__http__0", error.Message, StringComparison.Ordinal);
        Assert.Contains("services__ingest__grpc__0", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("services__auth__http__0", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://+:4317", 4317, true)]
    [InlineData("http://127.0.0.1:45555", 45555, true)]
    [InlineData("http://0.0.0.0:4317", 8080, false)]
    public void GrpcListener_IsFoundByTheConfiguredPort(string url, int localPort, bool isGrpc)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Kestrel:Endpoints:grpc:Url"] = url }).Build();
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        context.Connection.LocalPort = localPort;

        Assert.Equal(isGrpc, new GatewayListeners(configuration).IsGrpc(context));
    }

    [Theory]
    [InlineData("plain message", "plain message")]
    [InlineData("50% off", "50%25 off")]
    [InlineData("naïve", "na%C3%AFve")]
    public void GrpcMessage_IsPercentEncoded(string message, string encoded)
        => Assert.Equal(encoded, GatewayErrors.PercentEncode(message));
}
