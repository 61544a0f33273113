using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Trulayer.Gateway;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Microsoft.Extensions.Hosting;

internal static class GatewayServiceExtensions
{
    public static IHostApplicationBuilder AddGatewayServices(this IHostApplicationBuilder builder)
    {
        builder.AddIdentityAssertions();
        builder.Services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.SectionName).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        builder.Services.AddOptions<AuthClientOptions>().BindConfiguration(AuthClientOptions.SectionName).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AuthClientOptions>, AuthClientOptionsValidator>();
        // Above the real limit, which CallerAccessMiddleware applies: after its 413, Kestrel drains the
        // rest of the body so the client reads the answer (RequestBodyLimit).
        builder.Services.Configure<KestrelServerOptions>(kestrel => kestrel.Limits.MaxRequestBodySize = RequestBodyLimit.DrainLimit(GatewayOptions.MaxRequestBodySize));

        var clusters = GatewayRoutes.ClusterConfigs(builder.Configuration);
        var auth = new Uri(builder.Configuration["services:auth:http:0"]!);
        builder.Services.AddHttpClient(CallerVerifier.HttpClientName, client =>
        {
            client.BaseAddress = auth;
            // CallerVerifier and AuditRecorder bound each call with Gateway:AuthTimeout themselves.
            client.Timeout = Timeout.InfiniteTimeSpan;
        });
        builder.Services.AddSingleton<CallerVerifier>();
        builder.Services.AddSingleton<AuditRecorder>();
        builder.Services.AddSingleton<CallerRateLimiter>();
        builder.Services.AddSingleton<CrossSiteRequestCheck>();
        builder.Services.AddSingleton<GatewayListeners>();
        builder.Services.AddReverseProxy().LoadFromMemory(GatewayRoutes.RouteConfigs(), clusters);

        builder.Services.AddHttpClient(AuthReachableHealthCheck.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(3));
        builder.Services.AddHealthChecks().AddCheck<AuthReachableHealthCheck>("auth", tags: ["ready"]);
        return builder;
    }

    public static WebApplication MapGateway(this WebApplication app)
    {
        var trustedProxies = app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.TrustedProxies;
        if (trustedProxies.Length > 0)
        {
            // Only with proxies to trust: with none listed, the middleware would believe everyone.
            var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor, ForwardLimit = null };
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in trustedProxies)
            {
                forwarded.KnownIPNetworks.Add(ClientAddress.ParseNetwork(proxy)!.Value);
            }

            app.UseForwardedHeaders(forwarded);
        }

        app.UseMiddleware<FrontDoorMiddleware>();
        app.MapReverseProxy(proxy =>
        {
            proxy.UseMiddleware<CallerAccessMiddleware>();
            // Session affinity stays off: YARP's needs System.IO.Hashing, which cannot be restored here,
            // and the services are stateless.
            proxy.UseLoadBalancing();
            proxy.UsePassiveHealthChecks();
        });
        // "{**path}", not MapFallback's default pattern, which skips paths that look like files (jwks.json):
        // a page of the dashboard gets its index.html, an unknown API path the JSON 404 (DashboardFiles).
        app.MapFallback("{**path}", (HttpContext context, GatewayListeners listeners) => DashboardFiles.AnswerUnroutedAsync(context, listeners));
        return app;
    }
}
