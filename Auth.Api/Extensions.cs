using Microsoft.Extensions.Options;
using Trulayer.Auth;
using Trulayer.Auth.Access;
using Trulayer.Auth.Api;
using Trulayer.Auth.ApiKeys;
using Trulayer.Auth.Audit;
using Trulayer.Auth.DevIssuer;
using Trulayer.Auth.Organizations;
using Trulayer.Auth.Sessions;
using Trulayer.Auth.Verification;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;
using Trulayer.ServiceDefaults.OpenApi;
using Trulayer.ServiceDefaults.Postgres;

namespace Microsoft.Extensions.Hosting;

internal static class AuthServiceExtensions
{
    public const string Schema = "auth";

    public static IHostApplicationBuilder AddAuthServices(this IHostApplicationBuilder builder)
    {
        builder.AddTrulayerNpgsql();
        builder.AddSchemaMigrations(Schema, typeof(AuthOptions).Assembly);
        builder.AddIdentityAssertionAuthentication(options => options.WriteError = WriteErrorAsync);
        builder.Services.AddAuthorization(options =>
        {
            foreach (var policy in AccessTable.Policies)
            {
                options.AddPolicy(policy.Name, p => p.RequireAuthenticatedUser().RequireAssertion(
                    context => CallerIdentity.FromPrincipal(context.User) is { } caller && policy.Refusal(caller) is null));
            }
        });

        builder.AddServiceOpenApi(AccessTable.Policies.Select(p => new DocumentedPolicy(p.Name, p.AllowsApiKeys, p.SessionRoles)));
        builder.Services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.SectionName).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AuthOptions>, AuthOptionsValidator>();
        builder.Services.AddHttpClient(JwksKeySource.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(5));
        builder.Services.AddSingleton<ApiKeyStore>();
        builder.Services.AddSingleton<OrganizationStore>();
        builder.Services.AddSingleton<AuditLog>();
        builder.Services.AddSingleton<AuditCursor>();
        builder.Services.AddSingleton<ApiKeyUsageRecorder>();
        builder.Services.AddSingleton<JwksKeySource>();
        builder.Services.AddSingleton<SessionTokenValidator>();
        builder.Services.AddSingleton<CredentialVerifier>();
        builder.Services.AddHostedService<ApiKeyUsageFlusher>();

        if (builder.Configuration.GetValue<bool>($"{AuthOptions.SectionName}:{nameof(AuthOptions.DevIssuer)}:{nameof(DevIssuerOptions.Enabled)}"))
        {
            // Registered after the schema migration, so it seeds a migrated schema before the service listens.
            builder.Services.AddSingleton<DevSessionIssuer>();
            builder.Services.AddSingleton<DevSeeder>();
            builder.Services.AddHostedService(services => services.GetRequiredService<DevSeeder>());
        }

        return builder;
    }

    public static WebApplication MapAuthApi(this WebApplication app)
    {
        app.Use(AuditApi.AnswerBusyAsync);
        app.MapInternalApi();
        app.MapManagementApi();
        app.MapAuditApi();
        app.MapDevSignInApi();
        return app;
    }

    /// <summary>A 403 says what the route needs, from its row of the access table.</summary>
    private static Task WriteErrorAsync(HttpContext context, int status, string message)
    {
        if (status == StatusCodes.Status403Forbidden
            && context.GetEndpoint()?.Metadata.GetMetadata<RouteAccess>() is { } route
            && CallerIdentity.FromPrincipal(context.User) is { } caller
            && route.Policy.Refusal(caller) is { } refusal)
        {
            message = $"{route}: {refusal}";
        }

        return ErrorResponse.WriteAsync(context, status, message);
    }
}
