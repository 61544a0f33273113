using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Trulayer.Gateway.Tests;

[Collection(GatewayCollection.Name)]
public sealed class RevocationAndRateLimitTests(GatewayStack stack)
{
    [Fact]
    public async Task RevokedKey_IsRefusedWithin30Seconds()
    {
        var (key, id) = await stack.CreateApiKeyAsync(stack.Member, stack.DevProject);
        using (var before = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", key, GatewayStack.OtlpJson()))
        {
            Assert.NotEqual(HttpStatusCode.Unauthorized, before.StatusCode);
        }

        await stack.SendJsonAsync(HttpMethod.Delete, $"/v1/api-keys/{id}", stack.Member, null, HttpStatusCode.NoContent);
        var revoked = Stopwatch.StartNew();

        HttpStatusCode status;
        string message;
        do
        {
            await Task.Delay(250);
            using var response = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", key, GatewayStack.OtlpJson());
            status = response.StatusCode;
            message = await response.Content.ReadAsStringAsync();
        }
        while (status != HttpStatusCode.Unauthorized && revoked.Elapsed < TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("revoked", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RemovedMember_LosesAccessWithinTheCacheTime()
    {
        var user = "leaving_" + Guid.NewGuid().ToString("N")[..8];
        await stack.SendJsonAsync(HttpMethod.Post, "/v1/members", stack.Owner, new { userId = user, role = "member" }, HttpStatusCode.Created);
        var session = await stack.MintSessionAsync(user);
        await stack.SendJsonAsync(HttpMethod.Get, "/v1/projects", session, null, HttpStatusCode.OK);

        await stack.SendJsonAsync(HttpMethod.Delete, $"/v1/members/{user}", stack.Owner, null, HttpStatusCode.NoContent);
        await Task.Delay(GatewayStack.CacheTtl + TimeSpan.FromSeconds(1));

        await stack.SendJsonAsync(HttpMethod.Get, "/v1/projects", session, null, HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task NewOrganization_IsUsableByItsCreatorAtOnce()
    {
        var session = await stack.MintSessionAsync("founder_" + Guid.NewGuid().ToString("N")[..8]);
        await stack.SendJsonAsync(HttpMethod.Get, "/v1/projects", session, null, HttpStatusCode.Forbidden);

        await stack.SendJsonAsync(HttpMethod.Post, "/v1/organizations", session, new { name = "new org" }, HttpStatusCode.Created);
        var project = (await stack.SendJsonAsync(HttpMethod.Post, "/v1/projects", session, new { name = "first" }, HttpStatusCode.Created)).GetProperty("id").GetString();

        // The gateway forgot what it knew about this session when it created things, so the new
        // project is one of the session's at once (not only after the cache time).
        using var ingest = await stack.SendAsync(HttpMethod.Post, $"/v1/otlp/traces?project_id={project}", session, GatewayStack.OtlpJson());
        Assert.DoesNotContain("not found among", await ingest.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(ingest.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden, ingest.StatusCode.ToString());
    }

    [Fact]
    public async Task ApiKeyOverItsBurst_Gets429WithRetryAfter_OtherKeysDoNot()
    {
        var (key, _) = await stack.CreateApiKeyAsync(stack.Owner, stack.DevProject);
        var (other, _) = await stack.CreateApiKeyAsync(stack.Owner, stack.DevProject);

        var responses = await Task.WhenAll(Enumerable.Range(0, GatewayStack.ApiKeyBurst * 3)
            .Select(_ => stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", key, GatewayStack.OtlpJson())));
        try
        {
            var limited = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
            Assert.NotEmpty(limited);
            Assert.True(responses.Count(r => r.StatusCode != HttpStatusCode.TooManyRequests) >= GatewayStack.ApiKeyBurst);
            var retryAfter = limited[0].Headers.RetryAfter?.Delta;
            Assert.NotNull(retryAfter);
            Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
            var body = await limited[0].Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(8, body.GetProperty("code").GetInt32());
            Assert.Contains("rate limit", body.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }

        using var otherKey = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", other, GatewayStack.OtlpJson());
        Assert.NotEqual(HttpStatusCode.TooManyRequests, otherKey.StatusCode);
    }

    [Fact]
    public async Task RateLimitedKey_GetsThroughAgainAfterRetryAfter()
    {
        var (key, _) = await stack.CreateApiKeyAsync(stack.Owner, stack.DevProject);
        // All at once: sent one by one, a slow machine could refill the bucket as fast as they go.
        var responses = await Task.WhenAll(Enumerable.Range(0, GatewayStack.ApiKeyBurst * 3)
            .Select(_ => stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", key, GatewayStack.OtlpProtobuf())));
        TimeSpan? retryAfter;
        try
        {
            var limited = responses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
            Assert.Equal("application/x-protobuf", limited.Content.Headers.ContentType?.MediaType);
            Assert.Equal(8, Google.Rpc.Status.Parser.ParseFrom(await limited.Content.ReadAsByteArrayAsync()).Code);
            retryAfter = limited.Headers.RetryAfter?.Delta;
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }

        Assert.NotNull(retryAfter);
        await Task.Delay(retryAfter.Value);
        using var again = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", key, GatewayStack.OtlpProtobuf());
        Assert.NotEqual(HttpStatusCode.TooManyRequests, again.StatusCode);
    }
}
