using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Trulayer.Gateway;

/// <summary>
/// CSRF protection for cookie sessions. A browser sends the <c>__session</c> cookie with any request to
/// the gateway's site, including one a page on another site makes it send (a form post, say); only
/// the <c>Origin</c> header (or, without it, <c>Referer</c>) tells where the request came from. So a
/// state-changing request (POST, PUT, PATCH, DELETE) authenticated by the cookie must come from the
/// gateway's own origin or a configured one. A request with <c>Authorization: Bearer</c> is not
/// checked: no browser adds that header on its own, so it cannot be forged across sites.
/// </summary>
internal sealed class CrossSiteRequestCheck(IOptions<GatewayOptions> options)
{
    private readonly string? _publicOrigin = Normalize(options.Value.PublicOrigin);
    private readonly HashSet<string> _allowed = new(options.Value.AllowedOrigins.Select(Normalize).OfType<string>(), StringComparer.OrdinalIgnoreCase);

    /// <summary>Why the request is refused (403), or null when it may go on.</summary>
    public string? Refuse(HttpRequest request)
    {
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method) || HttpMethods.IsTrace(request.Method))
        {
            return null;
        }

        var origin = request.Headers.Origin.ToString();
        var source = "Origin";
        if (origin.Length == 0 && Uri.TryCreate(request.Headers.Referer.ToString(), UriKind.Absolute, out var referer))
        {
            origin = referer.GetLeftPart(UriPartial.Authority);
            source = "Referer";
        }

        if (origin.Length == 0)
        {
            return $"a {request.Method} authenticated by the {CallerAccessMiddleware.SessionCookie} cookie needs an Origin or Referer header of this site " +
                   "(browsers send one); scripts and SDKs should send 'Authorization: Bearer <token>' instead";
        }

        var expected = _publicOrigin ?? Normalize($"{request.Scheme}://{request.Host.Value}") ?? "";
        if (string.Equals(Normalize(origin), expected, StringComparison.OrdinalIgnoreCase) || _allowed.Contains(Normalize(origin) ?? ""))
        {
            return null;
        }

        return $"cross-site request refused: a {request.Method} authenticated by the {CallerAccessMiddleware.SessionCookie} cookie came from {source} '{origin}', " +
               $"not from {expected}{(_allowed.Count > 0 ? " or " + string.Join(", ", _allowed) : "")} (Gateway:PublicOrigin, Gateway:AllowedOrigins)";
    }

    /// <summary>scheme://host[:port], lower case, without a default port or a trailing slash; null when it is not an origin.</summary>
    private static string? Normalize(string? origin)
        => Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0
            ? uri.GetLeftPart(UriPartial.Authority).ToLowerInvariant()
            : null;
}
