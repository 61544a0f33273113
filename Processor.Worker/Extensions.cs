using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Trulayer.ServiceDefaults.Identity;
using Trulayer.ServiceDefaults.Postgres;
using Trulayer.Processor;
using Trulayer.Processor.Api;
using Trulayer.Processor.DeadLetters;
using Trulayer.Processor.Pipeline;
using Trulayer.Processor.Pricing;
using Trulayer.Processor.Storage;

namespace Microsoft.Extensions.Hosting;

internal static class ProcessorServiceExtensions
{
    /// <summary>The telemetry schema and its migrations, the span and log consume loops, retention, metrics and the worker health check.</summary>
    public static IHostApplicationBuilder AddProcessorServices(this IHostApplicationBuilder builder)
    {
        // The trace upsert and the other per-batch statements run thousands of times: plan them once per connection.
        builder.AddTrulayerNpgsql(dataSource => dataSource.ConnectionStringBuilder.MaxAutoPrepare = Math.Max(dataSource.ConnectionStringBuilder.MaxAutoPrepare, 16));
        builder.AddTrulayerKafka();
        builder.AddSchemaMigrations("telemetry", typeof(SpanConsumerWorker).Assembly);

        builder.Services.AddOptions<ProcessorOptions>().BindConfiguration(ProcessorOptions.SectionName).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ProcessorOptions>, ProcessorOptionsValidator>();
        builder.Services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.SectionName).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<TelemetryOptions>, TelemetryOptionsValidator>();

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ProcessorMetrics>();
        builder.Services.AddSingleton<WorkerHeartbeat>();
        builder.Services.AddSingleton<DimensionCache>();
        builder.Services.AddSingleton<SpanStorage>();
        builder.Services.AddSingleton<SpanBatchWriter>();
        builder.Services.AddSingleton<LogBatchWriter>();
        builder.Services.AddSingleton<DeadLetterPublisher>();
        builder.Services.AddSingleton<DeadLetterStore>();
        builder.Services.AddSingleton<PriceOverrides>();
        builder.Services.AddSingleton<SpanSignal>();
        builder.Services.AddSingleton<IRecordSignal<DecodedRecord>>(services => services.GetRequiredService<SpanSignal>());
        builder.Services.AddSingleton<LogSignal>();
        builder.Services.AddSingleton<IRecordSignal<DecodedLogRecord>>(services => services.GetRequiredService<LogSignal>());
        builder.Services.AddSingleton(typeof(RecordBatchHandler<>));
        builder.Services.AddTransient<SpanPipeline>();
        builder.Services.AddTransient<LogPipeline>();

        // After the migration (registered above), which hosted services start in order of; the price
        // overrides are read before the consume loops start, so no span is priced without them.
        builder.Services.AddHostedService<PriceOverridesRefresher>();
        builder.Services.AddHostedService<SpanConsumerWorker>();
        builder.Services.AddHostedService<LogConsumerWorker>();
        builder.Services.AddHostedService<RetentionWorker>();
        builder.Services.AddHealthChecks().AddCheck<WorkerHealthCheck>("worker");
        return builder;
    }

    /// <summary>
    /// The HTTP routes (dead letters, model prices) behind the gateway: the caller is the gateway's identity
    /// assertion (Identity:AssertionKey), and only dashboard sessions pass; roles are checked per route.
    /// </summary>
    public static IHostApplicationBuilder AddProcessorApi(this IHostApplicationBuilder builder)
    {
        builder.AddIdentityAssertionAuthentication();
        builder.Services.AddAuthorizationBuilder().AddPolicy(ProcessorApi.SessionPolicy, policy => policy
            .RequireAuthenticatedUser()
            .RequireAssertion(context => CallerIdentity.FromPrincipal(context.User) is { } caller && ProcessorApi.IsSession(caller)));
        builder.Services.AddSingleton<DeadLetterCursor>();
        return builder;
    }
}
