using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Trulayer.Ingest;
using Trulayer.Ingest.Admission;

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
        builder.Services.AddSingleton<AdmissionMetrics>();
        builder.Services.TryAddSingleton<IIngestAdmission, LagAwareAdmission>();
        builder.Services.AddHealthChecks().AddCheck<AdmissionHealthCheck>("admission");
        return builder;
    }
}
