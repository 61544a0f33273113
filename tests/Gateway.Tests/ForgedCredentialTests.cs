using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Gateway.Tests;

/// <summary>
/// What a forged credential costs: checksums checked at the gateway, keys of the old format still
/// accepted, and the limit on failed authentications per client address, against the real stack.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class ForgedCredentialTests(GatewayStack stack)
{
    [Fact]
    public async Task KeyCreatedThroughTheApi_IsChecksummed_AndItsSpansCanBeReadBack()
    {
        var (key, _) = await stack.CreateApiKeyAsync(stack.Member, stack.DevProject);
        Assert.Equal(ApiKeyFormat.Length, key.Length);
        Assert.Equal(ApiKeyShape.Checksummed, ApiKeyFormat.Check(key));

        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        var span = $$$"""
            {"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checksummed-key"}}]},
             "scopeSpans":[{"spans":[{"traceId":"{{{traceId}}}","spanId":"051581bf3cb55c13","name":"sent with a new key","kind":1,
             "startTimeUnixNano":"{{{start}}}","endTimeUnixNano":"{{{start + 1_000_000}}}"}]}]}]}
            """;
        using (var sent = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", key, GatewayStack.OtlpJson(span)))
        {
            Assert.Equal(HttpStatusCode.OK, sent.StatusCode);
        }

        var deadline = DateTime.UtcNow.AddSeconds(60);
        HttpStatusCode status;
        string body;
        do
        {
            using var read = await stack.SendAsync(HttpMethod.Get, $"/v1/traces/{traceId}", stack.Owner);
            (status, body) = (read.StatusCode, await read.Content.ReadAsStringAsync());
            if (status == HttpStatusCode.NotFound)
            {
                await Task.Delay(250);
            }
        }
        while (status == HttpStatusCode.NotFound && DateTime.UtcNow < deadline);

        Assert.True(status == HttpStatusCode.OK, $"{(int)status} {body}");
        Assert.Contains("sent with a new key", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeyOfTheFormatBeforeChecksums_StillWorks()
    {
        // GatewayStack gives the dev key the format keys had before checksums.
        Assert.Equal(ApiKeyShape.Legacy, ApiKeyFormat.Check(stack.Dev.ApiKey));

        using var response = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", stack.Dev.ApiKey, GatewayStack.OtlpJson());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ForgedOrMalformedKey_Is401AtTheGateway_AndNeverReachesAuth()
    {
        using var client = GatewayStack.ClientFrom(GatewayStack.NewLoopbackAddress());
        var run = Guid.NewGuid().ToString("N")[..12];
        var (key, _) = await stack.CreateApiKeyAsync(stack.Member, stack.DevProject);
        var forged = GatewayStack.WithTypo(key);
        var badLegacy = "tl_" + new string('A', 42) + "B";

        var refusals = new List<string>();
        foreach (var (credential, id) in new[] { (forged, $"forged-{run}"), (badLegacy, $"malformed-{run}"), (ApiKeyFormat.Generate(), $"unknown-{run}") })
        {
            using var response = await SendAsync(client, credential, configure: request => request.Headers.Add(CorrelationIdMiddleware.HeaderName, id));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            refusals.Add(await GatewayStack.ErrorAsync(response));
        }

        Assert.Contains("checksum does not match", refusals[0], StringComparison.Ordinal);
        Assert.Contains("malformed", refusals[1], StringComparison.Ordinal);
        Assert.Contains("not known", refusals[2], StringComparison.Ordinal);
        // Auth.Api logs every refused verification with its correlation id: the last key (its checksum is
        // right) was asked about, after the two others, which it never saw.
        await GatewayStack.Eventually(() => AuthLogged($"unknown-{run}"));
        Assert.False(AuthLogged($"forged-{run}"), "a key whose checksum fails reached Auth.Api");
        Assert.False(AuthLogged($"malformed-{run}"), "a malformed key reached Auth.Api");
        Assert.Contains(stack.Log.Lines, l => l.StartsWith("gateway", StringComparison.Ordinal) && l.Contains($"forged-{run}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task FailedAuthenticationsOverTheLimit_Are429WithRetryAfter_OtherAddressesAreNot_ThenItLifts()
    {
        var address = GatewayStack.NewLoopbackAddress();
        using var attacker = GatewayStack.ClientFrom(address);
        using var bystander = GatewayStack.ClientFrom(GatewayStack.NewLoopbackAddress());
        var (waiting, _) = await stack.CreateApiKeyAsync(stack.Owner, stack.DevProject);
        var (elsewhere, _) = await stack.CreateApiKeyAsync(stack.Owner, stack.DevProject);

        var (statuses, limited) = await FloodAsync(attacker);

        // The burst, and a few that passed the check at the same moment as the one that spent it.
        Assert.InRange(statuses.Count(s => s == HttpStatusCode.Unauthorized), GatewayStack.FailedAuthenticationBurst, GatewayStack.FailedAuthenticationBurst + 6);
        Assert.NotNull(limited);
        Assert.Equal(8, limited.Value.Code);
        Assert.Contains($"too many failed authentications from {address}", limited.Value.Message, StringComparison.Ordinal);
        var retryAfter = limited.Value.RetryAfter;
        Assert.InRange(retryAfter, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));

        // A valid key the gateway has not verified yet is refused too from that address, not from another.
        using (var blocked = await SendAsync(attacker, waiting))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
            Assert.NotNull(blocked.Headers.RetryAfter?.Delta);
        }

        using (var other = await SendAsync(bystander, elsewhere))
        {
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }

        await Task.Delay(retryAfter);
        var lifted = await UntilNotLimitedAsync(attacker, waiting, TimeSpan.FromSeconds(2));
        Assert.Equal(HttpStatusCode.OK, lifted);
    }

    [Fact]
    public async Task UnknownKeysWithRightChecksums_FromOneAddress_ReachAuthNoMoreThanItsBucketAllows()
    {
        using var attacker = GatewayStack.ClientFrom(GatewayStack.NewLoopbackAddress());
        var run = $"lookups-{Guid.NewGuid():N}"[..20];
        var keys = Enumerable.Range(0, GatewayStack.FailedAuthenticationBurst * 3).Select(_ => ApiKeyFormat.Generate()).ToList();

        var responses = await Task.WhenAll(keys.Select((key, i) =>
            SendAsync(attacker, key, configure: request => request.Headers.Add(CorrelationIdMiddleware.HeaderName, $"{run}-{i}"))));
        var statuses = responses.Select(r => r.StatusCode).ToList();
        responses.ToList().ForEach(r => r.Dispose());

        // Every request is in the gateway's log once it has answered; Auth.Api logged its refusals before that.
        await GatewayStack.Eventually(() => stack.Log.Lines.Count(l => l.StartsWith("gateway", StringComparison.Ordinal) && l.Contains(run, StringComparison.Ordinal)) == keys.Count);
        var lookups = stack.Log.Lines.Count(l => l.StartsWith("auth", StringComparison.Ordinal) && l.Contains(run, StringComparison.Ordinal));
        Assert.Equal(lookups, statuses.Count(s => s == HttpStatusCode.Unauthorized));
        Assert.Equal(keys.Count - lookups, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        // The burst, plus half of it that may be on its way on trust when the bucket falls to half, plus a refill.
        Assert.InRange(lookups, GatewayStack.FailedAuthenticationBurst, GatewayStack.FailedAuthenticationBurst * 3 / 2 + 1);
    }

    [Fact]
    public async Task ForwardedFor_IsBelievedFromATrustedProxyOnly()
    {
        var client = IPAddress.Parse($"203.0.113.{Random.Shared.Next(1, 255)}");
        var behindTheSameProxy = IPAddress.Parse($"198.51.100.{Random.Shared.Next(1, 255)}");

        // 127.0.0.1 is the stack's trusted proxy; a client's own X-Forwarded-For entry comes first and is
        // not believed: the proxy's, the last one, names the client.
        var (_, limited) = await FloodAsync(stack.Http, request => request.Headers.Add("X-Forwarded-For", $"192.0.2.1, {client}"));
        Assert.NotNull(limited);
        Assert.Contains($"too many failed authentications from {client}", limited.Value.Message, StringComparison.Ordinal);

        using (var other = await SendAsync(stack.Http, GatewayStack.WithTypo(ApiKeyFormat.Generate()), configure: request => request.Headers.Add("X-Forwarded-For", behindTheSameProxy.ToString())))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, other.StatusCode);
        }

        // From an address that is not a trusted proxy, X-Forwarded-For is ignored: naming the limited
        // client changes nothing.
        using var untrusted = GatewayStack.ClientFrom(GatewayStack.NewLoopbackAddress());
        using (var spoofed = await SendAsync(untrusted, GatewayStack.WithTypo(ApiKeyFormat.Generate()), configure: request => request.Headers.Add("X-Forwarded-For", client.ToString())))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, spoofed.StatusCode);
        }
    }

    /// <summary>
    /// Three times the burst of forged keys at once from <paramref name="client"/>: the statuses, and the
    /// first 429's gRPC code, message and Retry-After.
    /// </summary>
    private async Task<(HttpStatusCode[] Statuses, (int Code, string Message, TimeSpan RetryAfter)? Limited)> FloodAsync(HttpClient client, Action<HttpRequestMessage>? configure = null)
    {
        var responses = await Task.WhenAll(Enumerable.Range(0, GatewayStack.FailedAuthenticationBurst * 3)
            .Select(_ => SendAsync(client, GatewayStack.WithTypo(ApiKeyFormat.Generate()), configure)));
        try
        {
            var first = responses.FirstOrDefault(r => r.StatusCode == HttpStatusCode.TooManyRequests);
            if (first is null)
            {
                return ([.. responses.Select(r => r.StatusCode)], null);
            }

            var body = await first.Content.ReadFromJsonAsync<JsonElement>();
            var limited = (body.GetProperty("code").GetInt32(), body.GetProperty("message").GetString()!, first.Headers.RetryAfter?.Delta ?? TimeSpan.Zero);
            return ([.. responses.Select(r => r.StatusCode)], limited);
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpClient client, string credential, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(stack.Gateway, "/v1/otlp/traces")) { Content = GatewayStack.OtlpJson() };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        configure?.Invoke(request);
        return await client.SendAsync(request);
    }

    /// <summary>Sends until the answer is not 429, for at most <paramref name="within"/>; the last status.</summary>
    private async Task<HttpStatusCode> UntilNotLimitedAsync(HttpClient client, string credential, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            using var response = await SendAsync(client, credential);
            if (response.StatusCode != HttpStatusCode.TooManyRequests || DateTime.UtcNow > deadline)
            {
                return response.StatusCode;
            }

            await Task.Delay(100);
        }
    }

    private bool AuthLogged(string correlationId)
        => stack.Log.Lines.Any(l => l.StartsWith("auth", StringComparison.Ordinal) && l.Contains(correlationId, StringComparison.Ordinal));
}
