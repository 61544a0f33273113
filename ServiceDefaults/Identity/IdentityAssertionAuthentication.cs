using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Http;

namespace Trulayer.ServiceDefaults.Identity;

/// <summary>Options of the authentication scheme that accepts the gateway's identity assertion.</summary>
public sealed class IdentityAssertionAuthenticationOptions : AuthenticationSchemeOptions
{
    public const string Scheme = "IdentityAssertion";

    /// <summary>
    /// Writes a 401 or 403 answer. Defaults to <see cref="ErrorResponse"/> JSON; ingest replaces it with
    /// the OTLP error body of the request's encoding.
    /// </summary>
    public Func<HttpContext, int, string, Task> WriteError { get; set; } = ErrorResponse.WriteAsync;
}

internal sealed class IdentityAssertionHandler(
    IOptionsMonitor<IdentityAssertionAuthenticationOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IdentityAssertionVerifier verifier)
    : AuthenticationHandler<IdentityAssertionAuthenticationOptions>(options, loggerFactory, encoder)
{
    private string? _failure;

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var caller = verifier.Verify(Request.Headers[IdentityAssertion.HeaderName].ToString(), out var error);
        if (caller is null)
        {
            _failure = error;
            return Task.FromResult(AuthenticateResult.Fail(error));
        }

        var principal = IdentityClaims.ToPrincipal(caller, Scheme.Name);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
        => Options.WriteError(Context, StatusCodes.Status401Unauthorized, _failure ?? "authentication required");

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var caller = CallerIdentity.FromPrincipal(Context.User);
        var who = caller is null ? "the caller" : caller.Kind == CallerKind.ApiKey ? "an API key" : $"role '{caller.Role}'";
        return Options.WriteError(Context, StatusCodes.Status403Forbidden, $"{who} may not {Request.Method} {Request.Path}");
    }
}

public static class IdentityAssertionExtensions
{
    /// <summary>Registers the validated "Identity" options with the assertion signer and verifier.</summary>
    public static IHostApplicationBuilder AddIdentityAssertions(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<IdentityOptions>().BindConfiguration(IdentityOptions.SectionName).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<IdentityOptions>, IdentityOptionsValidator>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IdentityAssertionSigner>();
        builder.Services.AddSingleton<IdentityAssertionVerifier>();
        return builder;
    }

    /// <summary>
    /// Makes the gateway's identity assertion the service's authentication: routes that call
    /// RequireAuthorization() answer 401 to a request without a valid assertion.
    /// </summary>
    public static IHostApplicationBuilder AddIdentityAssertionAuthentication(
        this IHostApplicationBuilder builder, Action<IdentityAssertionAuthenticationOptions>? configure = null)
    {
        builder.AddIdentityAssertions();
        builder.Services
            .AddAuthentication(IdentityAssertionAuthenticationOptions.Scheme)
            .AddScheme<IdentityAssertionAuthenticationOptions, IdentityAssertionHandler>(
                IdentityAssertionAuthenticationOptions.Scheme, configure);
        builder.Services.AddAuthorization();
        return builder;
    }
}
