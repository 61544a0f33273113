using Scalar.AspNetCore;
using Trulayer.Gateway.OpenApi;
using Trulayer.ServiceDefaults.OpenApi;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The gateway's own routes for the API reference: <c>GET /openapi/v1.json</c> (the merged document) and
/// <c>/docs</c> (Scalar's page, its script served from the package on this origin, no CDN). Both are plain
/// endpoints, so they win over the reverse proxy's fallback and any SPA fallback (which has the lowest order).
/// </summary>
internal static class PublicApiReferenceExtensions
{
    public const string DocumentPath = "/openapi/" + ServiceOpenApi.DocumentName + ".json";
    public const string DocsPath = "/docs";

    /// <summary>Names the services whose documents are missing from the answer, when any are.</summary>
    public const string IncompleteHeader = "X-Trulayer-OpenApi-Incomplete";

    public static IHostApplicationBuilder AddPublicApiReference(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHttpClient(PublicApiDocumentCache.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan);
        builder.Services.AddSingleton<PublicApiDocumentCache>();
        builder.Services.AddHostedService(services => services.GetRequiredService<PublicApiDocumentCache>());
        return builder;
    }

    public static WebApplication MapPublicApiReference(this WebApplication app)
    {
        app.MapGet(DocumentPath, async (HttpContext context, PublicApiDocumentCache cache) =>
        {
            var snapshot = await cache.GetAsync(context.RequestAborted);
            var merged = snapshot.Merged;
            if (!merged.IsComplete)
            {
                // Header values are ASCII on one line; the document itself has the full text.
                var missing = string.Join("; ", merged.Unavailable.Concat(merged.Undocumented));
                context.Response.Headers[IncompleteHeader] = new string([.. missing.Take(2000).Select(c => c is >= ' ' and <= '~' ? c : '?')]);
            }

            context.Response.Headers.CacheControl = "no-cache";
            return TypedResults.Bytes(snapshot.Json, "application/json");
        });
        app.MapScalarApiReference(DocsPath, options => options
            .WithTitle("Trulayer API")
            // Nothing from another origin: the page's fonts would come from Scalar's font host.
            .DisableDefaultFonts()
            .WithOpenApiRoutePattern("/openapi/{documentName}.json"));
        return app;
    }
}
