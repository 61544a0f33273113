using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

namespace Trulayer.Gateway;

/// <summary>
/// The dashboard (a Blazor WebAssembly app, Dashboard/) served by the gateway as static files, so the
/// pages, the API and the <c>__session</c> cookie share one origin and the CSRF check needs no
/// exception. The files are the published app (trimmed, fingerprinted, precompressed with Brotli and
/// gzip), listed in its endpoints manifest, in dashboard/ beside the gateway's assembly, where the
/// gateway's build or publish (the image) puts them (Gateway.csproj). Fingerprinted files are immutable for a year; the rest (index.html) revalidated
/// (no-cache, ETag). Every other GET of a page (not the API's, not a file name) answers index.html, so a
/// deep link (/traces/{id}/spans/{id}) opens the app; the API's paths never do: an unknown one stays a
/// JSON 404. Neither the files nor the pages need a credential; the data behind them does.
/// </summary>
internal static class DashboardFiles
{
    private const string IndexFile = "index.html";

    /// <summary>Paths that belong to the API (and the documents the gateway will serve), never to the app.</summary>
    private static readonly string[] ApiPrefixes = ["/v1", "/openapi", "/docs", "/opentelemetry.proto."];

    /// <summary>Where the gateway finds the dashboard its build or publish published, beside its assembly.</summary>
    private static string BuiltDashboardDirectory => Path.Combine(AppContext.BaseDirectory, "dashboard");

    private static string BuiltDashboardManifest => Path.Combine(BuiltDashboardDirectory, "Dashboard.staticwebassets.endpoints.json");

    public static WebApplicationBuilder AddDashboardFiles(this WebApplicationBuilder builder)
    {
        if (File.Exists(BuiltDashboardManifest))
        {
            // The published app in dashboard/ is the web root, so its manifest's paths resolve there.
            var webRoot = Path.Combine(BuiltDashboardDirectory, "wwwroot");
            builder.Environment.WebRootPath = webRoot;
            builder.Environment.WebRootFileProvider = new PhysicalFileProvider(webRoot);
        }
        else
        {
            // Without it (a build whose PublishDashboard step did not run), the build output the project reference lists.
            builder.WebHost.UseStaticWebAssets();
        }

        return builder;
    }

    public static WebApplication MapDashboardFiles(this WebApplication app)
    {
        app.MapStaticAssets(File.Exists(BuiltDashboardManifest) ? BuiltDashboardManifest : null);
        return app;
    }

    /// <summary>Whether <paramref name="path"/> is one of the API's: an unknown one is a JSON 404, never the app.</summary>
    public static bool IsApiPath(PathString path)
        => ApiPrefixes.Any(prefix => path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase)
            || (prefix.EndsWith('.') && path.Value?.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) == true));

    /// <summary>
    /// A path whose last segment has a dot (/.well-known/jwks.json, a missing script) names a file, not a page:
    /// it is a 404, never index.html, which would hide the mistake behind a page that does not load.
    /// </summary>
    private static bool LooksLikeAFile(PathString path)
    {
        var value = path.Value ?? "";
        return value.LastIndexOf('.') > value.LastIndexOf('/');
    }

    /// <summary>The answer to a path no route takes: the app's index.html for a page, else the JSON 404.</summary>
    public static Task AnswerUnroutedAsync(HttpContext context, GatewayListeners listeners)
    {
        var request = context.Request;
        if (listeners.IsGrpc(context) || IsApiPath(request.Path) || LooksLikeAFile(request.Path)
            || !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)))
        {
            return NoRoute.WriteAsync(context, listeners);
        }

        var environment = context.RequestServices.GetRequiredService<IWebHostEnvironment>();
        var index = environment.WebRootFileProvider.GetFileInfo(IndexFile);
        if (!index.Exists)
        {
            return NoRoute.WriteAsync(context, listeners);
        }

        return SendIndexAsync(context, index);
    }

    private static async Task SendIndexAsync(HttpContext context, IFileInfo index)
    {
        var response = context.Response;
        response.ContentType = "text/html; charset=utf-8";
        // index.html names the fingerprinted files of this build: always revalidated, never kept stale.
        response.Headers.CacheControl = "no-cache";
        response.Headers[HeaderNames.XContentTypeOptions] = "nosniff";
        response.ContentLength = index.Length;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        await response.SendFileAsync(index, context.RequestAborted);
    }
}
