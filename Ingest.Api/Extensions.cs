using Trulayer.ServiceDefaults.Identity;

namespace Microsoft.Extensions.Hosting;

internal static class IngestServiceExtensions
{
    public static IHostApplicationBuilder AddIngestServices(this IHostApplicationBuilder builder)
    {
        builder.AddTrulayerKafka();
        builder.AddIdentityAssertionAuthentication();
        return builder;
    }
}
