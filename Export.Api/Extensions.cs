using Trulayer.ServiceDefaults.Identity;

namespace Microsoft.Extensions.Hosting;

internal static class ExportServiceExtensions
{
    public static IHostApplicationBuilder AddExportServices(this IHostApplicationBuilder builder)
    {
        builder.AddTrulayerNpgsql();
        builder.AddIdentityAssertionAuthentication();
        return builder;
    }
}
