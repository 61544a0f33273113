using System.Net;

namespace Trulayer.Gateway.Tests;

[Collection(GatewayCollection.Name)]
public sealed class AuthOutageTests(GatewayStack stack)
{
    [Fact]
    public async Task AuthDown_NewCredential_Is503WithRetryAfter_ThenWorksAgain()
    {
        var (key, _) = await stack.CreateApiKeyAsync(stack.Owner, stack.DevProject);
        await stack.App.StopResourceAsync("auth");
        try
        {
            using var response = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", key, GatewayStack.OtlpJson());

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.NotNull(response.Headers.RetryAfter);
            Assert.Contains("cannot be verified", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        finally
        {
            await stack.App.StartResourceAsync("auth");
        }

        using var after = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", key, GatewayStack.OtlpJson());
        Assert.False(after.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.Unauthorized, after.StatusCode.ToString());
    }
}
