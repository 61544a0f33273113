using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Trulayer.Ingest;
using Trulayer.Ingest.Admission;
using Trulayer.ServiceDefaults.Kafka;

namespace Microsoft.Extensions.Hosting;

internal static class AdmissionServiceExtensions
{
    /// <summary>
    /// Lag-aware admission behind <see cref="IIngestAdmission"/> (unless one is registered already), its
    /// "Ingest:Admission" options, the backlog monitor, metrics and the "admission" health check.
    /// </summary>
    public static IHostApplicationBuilder AddLagAwareAdmission(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AdmissionOptions>()
            .BindConfiguration(AdmissionOptions.SectionName)
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AdmissionOptions>, AdmissionOptionsValidator>();
        builder.Services.AddSingleton<BacklogMonitor>();
        builder.Services.AddHostedService(services => services.GetRequiredService<BacklogMonitor>());
        // Log records have a topic, and so a backlog and a bound, of their own.
        builder.Services.AddKeyedSingleton(BacklogMonitor.LogsKey, (services, _) => new BacklogMonitor(
            services.GetRequiredService<KafkaClientFactory>(),
            services.GetRequiredService<IOptions<AdmissionOptions>>(),
            services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<ILogger<BacklogMonitor>>(),
            services.GetRequiredService<KafkaClientFactory>().Options.LogsTopic));
        // Not AddHostedService: it adds one hosted service per implementation type, and this is a second BacklogMonitor.
        builder.Services.AddSingleton<IHostedService>(services => services.GetRequiredKeyedService<BacklogMonitor>(BacklogMonitor.LogsKey));
        builder.Services.AddSingleton<AdmissionMetrics>();
        builder.Services.TryAddSingleton<IIngestAdmission, LagAwareAdmission>();
        builder.Services.AddHealthChecks()
            .Add(new HealthCheckRegistration(AdmissionHealthCheck.SpansName,
                services => new AdmissionHealthCheck(services.GetRequiredService<BacklogMonitor>(), "spans"), failureStatus: null, tags: null))
            .Add(new HealthCheckRegistration(AdmissionHealthCheck.LogsName,
                services => new AdmissionHealthCheck(services.GetRequiredKeyedService<BacklogMonitor>(BacklogMonitor.LogsKey), "log records"), failureStatus: null, tags: null));
        return builder;
    }
}
