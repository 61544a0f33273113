using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Trulayer.Gateway.Tests;

/// <summary>The limit on failed authentications per client address (one failure a minute here, so nothing refills during a test).</summary>
public sealed class CallerRateLimiterTests
{
    private static CallerRateLimiter Create()
    {
        var options = new GatewayOptions();
        options.RateLimit.FailedAuthentication.Burst = 20;
        options.RateLimit.FailedAuthentication.PermitsPerMinute = 1;
        return new CallerRateLimiter(Options.Create(options), NullLogger<CallerRateLimiter>.Instance);
    }

    [Fact]
    public void LookupsThatDoNotFail_CostNothing()
    {
        using var limiter = Create();
        var client = IPAddress.Parse("203.0.113.10");

        for (var i = 0; i < 100; i++)
        {
            using var permit = limiter.AdmitLookup(client);
            Assert.Null(permit.RetryAfter);
            Assert.False(permit.Paid);
        }

        Assert.All(Enumerable.Range(0, 20), _ => Assert.Null(limiter.TryCountFailedAuthentication(client)));
        Assert.NotNull(limiter.TryCountFailedAuthentication(client));
    }

    [Fact]
    public void LookupsAtOnce_GetHalfTheBurstOnTrust_ThenOneToken_Each_ThenRetryAfter()
    {
        using var limiter = Create();
        var client = IPAddress.Parse("203.0.113.11");

        var permits = Enumerable.Range(0, 100).Select(_ => limiter.AdmitLookup(client)).ToList();
        try
        {
            Assert.Equal(10, permits.Count(p => p.RetryAfter is null && !p.Paid));
            Assert.Equal(20, permits.Count(p => p.Paid));
            var refused = permits.Where(p => p.RetryAfter is not null).ToList();
            Assert.Equal(70, refused.Count);
            Assert.All(refused, p => Assert.InRange(p.RetryAfter!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)));
            Assert.Null(limiter.AdmitLookup(IPAddress.Parse("203.0.113.12")).RetryAfter);
        }
        finally
        {
            permits.ForEach(p => p.Dispose());
        }
    }

    [Fact]
    public void FailuresPastTheBurst_AreRefusedWithRetryAfter_PerAddress()
    {
        using var limiter = Create();
        var client = IPAddress.Parse("2001:db8:0:1::1");

        Assert.All(Enumerable.Range(0, 20), _ => Assert.Null(limiter.TryCountFailedAuthentication(client)));

        Assert.InRange(limiter.TryCountFailedAuthentication(IPAddress.Parse("2001:db8:0:1::2"))!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
        Assert.NotNull(limiter.AdmitLookup(client).RetryAfter);
        Assert.Null(limiter.TryCountFailedAuthentication(IPAddress.Parse("2001:db8:0:2::1")));
    }
}
