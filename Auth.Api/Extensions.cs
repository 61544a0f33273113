using Trulayer.ServiceDefaults.Identity;

namespace Microsoft.Extensions.Hosting;

internal static class AuthServiceExtensions
{
    public static IHostApplicationBuilder AddAuthServices(this IHostApplicationBuilder builder)
    {
        builder.AddTrulayerNpgsql();
        builder.AddIdentityAssertionAuthentication();
        return builder;
    }
}
