using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Trulayer.Gateway;

/// <summary>The gateway is healthy only while it can reach Auth.Api, which answers for every request.</summary>
internal sealed class AuthReachableHealthCheck(IHttpClientFactory httpClientFactory, IConfiguration configuration) : IHealthCheck
{
    public const string HttpClientName = "auth-health";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var auth = configuration["services:auth:http:0"];
        if (string.IsNullOrEmpty(auth))
        {
            return HealthCheckResult.Unhealthy("services:auth:http:0 is not set: the gateway does not know where Auth.Api is");
        }

        try
        {
            using var response = await httpClientFactory.CreateClient(HttpClientName).GetAsync(new Uri(new Uri(auth), "/alive"), cancellationToken);
            return response.IsSuccessStatusCode
                ? HealthCheckResult.Healthy($"auth at {auth}")
                : HealthCheckResult.Unhealthy($"auth at {auth} answered {(int)response.StatusCode}");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return HealthCheckResult.Unhealthy($"auth at {auth} is unreachable: {ex.Message}");
        }
    }
}
