using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Gateway.Tests;

/// <summary>
/// The gateway's verifier against the stack's real Auth.Api, counting the calls it makes: what it refuses
/// by itself, what it keeps, and that made-up keys cannot push a valid key's verdict out.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class CallerVerifierTests(GatewayStack stack)
{
    [Fact]
    public async Task ForgedKeysCostNoCall_UnknownKeysOneEach_AndAFloodOfThemKeepsValidVerdicts()
    {
        var auth = new CountingAuthClient(stack.App.GetEndpoint("auth"));
        var options = new GatewayOptions { RefusalCacheSize = 16 };
        options.RateLimit.FailedAuthentication.Burst = 1_000_000; // the calls are counted here, not the limit
        var (verifier, rateLimiter) = Create(auth, options);
        using var disposeVerifier = verifier;
        using var disposeRateLimiter = rateLimiter;
        var (key, _) = await stack.CreateApiKeyAsync(stack.Member, stack.DevProject);
        Task<Verdict> Verify(string credential) => verifier.VerifyAsync(credential, GatewayRoutes.IngestPolicy, IPAddress.Loopback, "caller-verifier-test", CancellationToken.None);

        var first = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Verify(key)));
        Assert.All(first, v => Assert.Equal(200, v.Status));
        Assert.Equal(1, auth.Calls);

        var forged = Enumerable.Range(0, 1000).Select(_ => GatewayStack.WithTypo(ApiKeyFormat.Generate()))
            .Concat(Enumerable.Range(0, 1000).Select(i => "tl_" + new string('A', 42) + "BCDF"[i % 4]))
            .Concat(["tl_short", "tl_" + new string('!', 49)]);
        foreach (var credential in forged)
        {
            Assert.Equal(401, (await Verify(credential)).Status);
        }

        Assert.Equal(1, auth.Calls);

        // Four times as many unknown keys (with right checksums) as the refusal cache has slots.
        var unknown = Enumerable.Range(0, 64).Select(_ => ApiKeyFormat.Generate()).ToList();
        foreach (var credential in unknown)
        {
            var verdict = await Verify(credential);
            Assert.Equal(401, verdict.Status);
            Assert.Contains("not known", verdict.Error, StringComparison.Ordinal);
        }

        Assert.Equal(1 + unknown.Count, auth.Calls);
        Assert.Equal(401, (await Verify(unknown[^1])).Status);
        Assert.Equal(200, (await Verify(key)).Status);
        Assert.Equal(1 + unknown.Count, auth.Calls);
    }

    [Fact]
    public async Task ManyRequestsAtOnceWithANewValidKey_CostTheAddressNoFailures()
    {
        var auth = new CountingAuthClient(stack.App.GetEndpoint("auth"));
        var options = new GatewayOptions();
        var (verifier, rateLimiter) = Create(auth, options);
        using var disposeVerifier = verifier;
        using var disposeRateLimiter = rateLimiter;
        var client = IPAddress.Parse("198.51.100.77");
        var (key, _) = await stack.CreateApiKeyAsync(stack.Member, stack.DevProject);

        var verdicts = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ =>
            Task.Run(() => verifier.VerifyAsync(key, GatewayRoutes.IngestPolicy, client, "new-key-test", CancellationToken.None))));

        Assert.All(verdicts, v => Assert.Equal(200, v.Status));
        Assert.InRange(auth.Calls, 1, 2);
        // The whole burst of failures is still there.
        Assert.All(Enumerable.Range(0, options.RateLimit.FailedAuthentication.Burst), _ => Assert.Null(rateLimiter.TryCountFailedAuthentication(client)));
    }

    [Fact]
    public async Task LegacyKeysOff_RefusesTheFormerFormatWithoutACall()
    {
        var auth = new CountingAuthClient(stack.App.GetEndpoint("auth"));
        var options = new GatewayOptions { LegacyApiKeys = false };
        var (verifier, rateLimiter) = Create(auth, options);
        using var disposeVerifier = verifier;
        using var disposeRateLimiter = rateLimiter;

        var verdict = await verifier.VerifyAsync(stack.Dev.ApiKey!, GatewayRoutes.IngestPolicy, IPAddress.Loopback, "legacy-off-test", CancellationToken.None);

        Assert.Equal(401, verdict.Status);
        Assert.Contains("no longer accepted", verdict.Error, StringComparison.Ordinal);
        Assert.Equal(0, auth.Calls);
    }

    [Fact]
    public void RefusalCache_HasAFixedSize_AndKeepsARefusalForItsTtl()
    {
        var clock = new ManualClock();
        var cache = new RefusalCache(1000, TimeSpan.FromSeconds(10), clock);
        var refusal = Verdict.Unauthenticated("not known");
        var digests = Enumerable.Range(0, 100_000).Select(i => CredentialDigest.Of("tl_" + i)).ToList();

        foreach (var digest in digests)
        {
            cache.Add(digest, refusal);
        }

        Assert.Equal(1024, cache.Capacity);
        Assert.InRange(digests.Count(d => cache.Find(d) is not null), 500, 1024);
        Assert.Same(refusal, cache.Find(digests[^1]));
        Assert.Null(cache.Find(CredentialDigest.Of("tl_never refused")));

        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Null(cache.Find(digests[^1]));
    }

    /// <summary>A verifier (and the rate limiter it counts failures with) that asks the stack's Auth.Api through <paramref name="auth"/>.</summary>
    private (CallerVerifier Verifier, CallerRateLimiter RateLimiter) Create(CountingAuthClient auth, GatewayOptions options)
    {
        var rateLimiter = new CallerRateLimiter(Options.Create(options), NullLogger<CallerRateLimiter>.Instance);
        var verifier = new CallerVerifier(
            auth,
            Options.Create(options),
            Options.Create(new AuthClientOptions { InternalKey = stack.Setting("gateway", "Auth__InternalKey") }),
            rateLimiter,
            TimeProvider.System,
            NullLogger<CallerVerifier>.Instance);
        return (verifier, rateLimiter);
    }

    /// <summary>HttpClients to Auth.Api through a handler that counts the requests.</summary>
    private sealed class CountingAuthClient(Uri auth) : IHttpClientFactory
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public HttpClient CreateClient(string name) => new(new Counter(this) { InnerHandler = new SocketsHttpHandler() }) { BaseAddress = auth };

        private sealed class Counter(CountingAuthClient owner) : DelegatingHandler
        {
            protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                Interlocked.Increment(ref owner._calls);
                return base.SendAsync(request, cancellationToken);
            }
        }
    }

    private sealed class ManualClock : TimeProvider
    {
        private long _now = 1;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _now;

        public void Advance(TimeSpan by) => _now += by.Ticks;
    }
}
