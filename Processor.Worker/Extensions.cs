namespace Microsoft.Extensions.Hosting;

internal static class ProcessorServiceExtensions
{
    public static IHostApplicationBuilder AddProcessorServices(this IHostApplicationBuilder builder)
    {
        builder.AddTrulayerNpgsql();
        builder.AddTrulayerKafka();
        return builder;
    }
}
