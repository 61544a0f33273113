using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Trulayer.ServiceDefaults.Hosting;
using Trulayer.ServiceDefaults.Http;

namespace Microsoft.Extensions.Hosting;

/// <summary>What every Trulayer service shares: self-telemetry, health endpoints, correlation ids.</summary>
public static class Extensions
{
    public const string HealthEndpointPath = "/health";
    public const string AlivenessEndpointPath = "/alive";
    public const string LiveTag = "live";

    /// <summary>The prefix of every Trulayer ActivitySource and Meter name ("Trulayer.Ingest", ...).</summary>
    public const string TelemetryPrefix = "Trulayer.";

    /// <summary>
    /// Log levels every service starts from, as the lowest-priority configuration source, so
    /// appsettings.json and Logging__LogLevel__* variables still override them: the framework's
    /// per-request chatter off, our own information on.
    /// </summary>
    private static readonly Dictionary<string, string?> DefaultLogLevels = new()
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore.DataProtection"] = "Error",
        ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Warning",
        ["Logging:LogLevel:Npgsql"] = "Warning",
        ["Logging:LogLevel:Yarp"] = "Warning",
        // A request without an assertion (health probes, internal calls) is normal, not news.
        ["Logging:LogLevel:Trulayer.ServiceDefaults.Identity.IdentityAssertionHandler"] = "Warning",
    };

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = DefaultLogLevels });
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddSingleton<IStartupFilter, CorrelationIdStartupFilter>();
        // Error messages quote what was wrong ('text/plain', "zz"): keep them readable rather than \u0027-escaped.
        // The APIs answer JSON that is never embedded in HTML, where relaxed escaping would matter.
        builder.Services.ConfigureHttpJsonOptions(options => options.SerializerOptions.Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping);

        if (builder.Configuration.GetValue(IdleMemoryTrimmer.EnabledKey, defaultValue: true))
        {
            builder.Services.AddHostedService<IdleMemoryTrimmer>();
        }

        if (int.TryParse(builder.Configuration[ParentProcessWatchdog.EnvironmentVariable], NumberStyles.None, CultureInfo.InvariantCulture, out var parentPid))
        {
            builder.Services.AddHostedService(services => ActivatorUtilities.CreateInstance<ParentProcessWatchdog>(services, parentPid));
        }

        return builder;
    }

    /// <summary>
    /// Self-telemetry over OTLP, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads the
    /// standard OTEL_* variables). The framework's own sources and meters plus every "Trulayer.*" one.
    /// </summary>
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        if (string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            return builder;
        }

        var serviceName = builder.Configuration["OTEL_SERVICE_NAME"] ?? builder.Environment.ApplicationName;
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
            logging.SetResourceBuilder(ResourceBuilder.CreateDefault().AddService(serviceName));
            logging.AddOtlpExporter();
        });

        var sdk = OpenTelemetrySdk.Create(otel => otel
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithTracing(tracing => tracing
                .AddSource("Microsoft.AspNetCore", "System.Net.Http", "Npgsql", TelemetryPrefix + "*")
                .AddOtlpExporter())
            .WithMetrics(metrics => metrics
                .AddMeter(
                    "Microsoft.AspNetCore.Hosting",
                    "Microsoft.AspNetCore.Server.Kestrel",
                    "System.Net.Http",
                    "Npgsql",
                    TelemetryPrefix + "*")
                .AddOtlpExporter()));

        // The container disposes the SDK at shutdown, which flushes what is buffered.
        builder.Services.AddSingleton(sdk);
        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        return builder;
    }

    /// <summary>
    /// /health runs every check (what this service depends on right now); /alive only the live-tagged
    /// ones (the process itself). Both answer JSON naming each check, its status and why.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks(HealthEndpointPath, new HealthCheckOptions { ResponseWriter = WriteHealthAsync });
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(LiveTag),
            ResponseWriter = WriteHealthAsync,
        });
        return app;
    }

    private static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(
                e => e.Key,
                e => new { status = e.Value.Status.ToString(), description = e.Value.Description, data = e.Value.Data.Count == 0 ? null : e.Value.Data }),
        };
        return JsonSerializer.SerializeAsync(context.Response.Body, body, cancellationToken: context.RequestAborted);
    }

    /// <summary>Puts the correlation id first in every pipeline, before authentication can answer.</summary>
    private sealed class CorrelationIdStartupFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseMiddleware<CorrelationIdMiddleware>();
            next(app);
        };
    }
}
