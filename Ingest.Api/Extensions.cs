using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Trulayer.Ingest;
using Trulayer.Ingest.Http;
using Trulayer.Ingest.Kafka;
using Trulayer.ServiceDefaults.Identity;

namespace Microsoft.Extensions.Hosting;

internal static class IngestServiceExtensions
{
    public static IHostApplicationBuilder AddIngestServices(this IHostApplicationBuilder builder)
    {
        builder.AddTrulayerKafka();
        builder.AddIdentityAssertionAuthentication(options => options.WriteError = IngestHttpApi.WriteAuthenticationErrorAsync);
        builder.Services.AddAuthorizationBuilder().AddPolicy(IngestHttpApi.PolicyName, policy => policy
            .RequireAuthenticatedUser()
            .RequireAssertion(context => CallerIdentity.FromPrincipal(context.User) is { } caller && IngestProject.MayExport(caller)));

        builder.Services.AddOptions<IngestOptions>()
            .BindConfiguration(IngestOptions.SectionName)
            .Configure<IConfiguration>((options, configuration) => options.RetentionDays ??= configuration.GetValue<int?>("Telemetry:RetentionDays"))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<IngestOptions>, IngestOptionsValidator>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.AddLagAwareAdmission();
        builder.Services.AddSingleton<IngestMetrics>();
        builder.Services.AddSingleton<SpanRecordProducer>();
        builder.Services.AddSingleton<IngestService>();
        return builder;
    }
}
