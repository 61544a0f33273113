using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Http;

namespace Trulayer.Auth.DevIssuer;

public sealed record DevSignInRequest(string? Role);

public sealed record DevSignInResponse(string UserId, string Role, DateTimeOffset ExpiresAt);

/// <summary>
/// The dashboard's local sign-in: <c>POST /v1/dev/session {"role": "owner"}</c> signs the browser in as
/// the dev organization's seeded owner, member or viewer by setting the <c>__session</c> cookie (where
/// Clerk keeps its session on the application's domain; HttpOnly, SameSite=Lax, Secure unless the
/// browser is on localhost); <c>DELETE</c> signs it out. A public route the gateway forwards without a
/// credential. It exists only when the dev issuer is on; otherwise both answer 404 saying so.
/// </summary>
internal static partial class DevSignInApi
{
    public const string Path = "/v1/dev/session";

    /// <summary>Clerk's session cookie, which the gateway reads (CallerAccessMiddleware.SessionCookie).</summary>
    public const string SessionCookie = "__session";

    public static IEndpointRouteBuilder MapDevSignInApi(this IEndpointRouteBuilder app)
    {
        if (app.ServiceProvider.GetRequiredService<IOptions<AuthOptions>>().Value.DevIssuer.Enabled)
        {
            app.MapPost(Path, SignIn);
            app.MapDelete(Path, SignOut);
        }
        else
        {
            app.MapMethods(Path, [HttpMethods.Post, HttpMethods.Delete], Off);
        }

        return app;
    }

    private static JsonHttpResult<ErrorResponse> Off()
        => ErrorResponse.Result(StatusCodes.Status404NotFound,
            "the dev sign-in is off: it exists only on local runs with the dev issuer (Auth__DevIssuer__Enabled=true); sign in through the identity provider");

    private static async Task<Results<Ok<DevSignInResponse>, JsonHttpResult<ErrorResponse>>> SignIn(
        HttpContext context, DevSeeder seeder, DevSessionIssuer issuer, ILogger<DevSeeder> logger)
    {
        var roles = string.Join(", ", DevSeed.Users.Keys);
        var (body, error) = await Api.JsonBody.ReadAsync<DevSignInRequest>(context.Request, """{"role": "owner"}""");
        if (body is null)
        {
            return ErrorResponse.Result(StatusCodes.Status400BadRequest, error!);
        }

        if (body.Role is null || !DevSeed.Users.TryGetValue(body.Role, out var userId))
        {
            return ErrorResponse.Result(StatusCodes.Status400BadRequest, $"role '{body.Role}' is not one of the seeded people: it is one of {roles}");
        }

        if (seeder.Seed is not { } seed)
        {
            return ErrorResponse.Result(StatusCodes.Status503ServiceUnavailable, "the dev organization is not seeded yet: retry in a moment");
        }

        var (token, expiresAt) = issuer.Mint(userId, seed.OrganizationId);
        context.Response.Cookies.Append(SessionCookie, token, CookieOptions(context.Request, expiresAt));
        Log.SignedIn(logger, userId, body.Role, context.TraceIdentifier);
        return TypedResults.Ok(new DevSignInResponse(userId, body.Role, expiresAt));
    }

    private static NoContent SignOut(HttpContext context)
    {
        context.Response.Cookies.Delete(SessionCookie, CookieOptions(context.Request, null));
        return TypedResults.NoContent();
    }

    private static CookieOptions CookieOptions(HttpRequest request, DateTimeOffset? expiresAt) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Lax,
        Secure = !IsLocalhost(BrowserHost(request)),
        Path = "/",
        Expires = expiresAt,
    };

    /// <summary>The host the browser used: the gateway's X-Forwarded-Host (YARP sets it), else the request's own.</summary>
    private static string BrowserHost(HttpRequest request)
    {
        var forwarded = request.Headers["X-Forwarded-Host"].ToString();
        var host = forwarded.Length > 0 ? forwarded.Split(',')[0].Trim() : request.Host.Value ?? "";
        return HostString.FromUriComponent(host).Host;
    }

    private static bool IsLocalhost(string host)
        => host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || (System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address));

    private static partial class Log
    {
        [LoggerMessage(EventId = 1360, Level = LogLevel.Information, Message = "Dev sign-in as {UserId} ({Role}) ({CorrelationId})")]
        public static partial void SignedIn(ILogger logger, string userId, string role, string correlationId);
    }
}
