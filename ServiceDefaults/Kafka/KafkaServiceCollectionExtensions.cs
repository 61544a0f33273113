using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Kafka;

namespace Microsoft.Extensions.Hosting;

public static class KafkaHostingExtensions
{
    /// <summary>
    /// Registers <see cref="KafkaClientFactory"/> bound to ConnectionStrings:kafka and the "Kafka"
    /// section (validated at start), and a "kafka" health check for /health.
    /// </summary>
    public static IHostApplicationBuilder AddTrulayerKafka(this IHostApplicationBuilder builder)
    {
        KafkaNative.EnsureRegistered();
        builder.Services.AddOptions<KafkaOptions>()
            .BindConfiguration(KafkaOptions.SectionName)
            .Configure<IConfiguration>((options, configuration) =>
            {
                if (string.IsNullOrWhiteSpace(options.BootstrapServers))
                {
                    options.BootstrapServers = configuration.GetConnectionString(KafkaOptions.ConnectionStringName) ?? "";
                }
            })
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<KafkaOptions>, KafkaOptionsValidator>();
        builder.Services.AddSingleton<KafkaClientFactory>();
        builder.Services.AddHealthChecks().AddCheck<KafkaHealthCheck>("kafka", tags: ["ready"]);
        return builder;
    }
}
