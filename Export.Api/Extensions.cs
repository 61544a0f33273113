using System.IO.Compression;
using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.Extensions.Options;
using Trulayer.Export;
using Trulayer.Export.Http;
using Trulayer.Export.Output;
using Trulayer.Export.Paging;
using Trulayer.Export.Sessions;
using Trulayer.Export.Spans;
using Trulayer.Export.Storage;
using Trulayer.Export.Traces;
using Trulayer.ServiceDefaults.Identity;

namespace Microsoft.Extensions.Hosting;

internal static class ExportServiceExtensions
{
    public static IHostApplicationBuilder AddExportServices(this IHostApplicationBuilder builder)
    {
        builder.AddTrulayerNpgsql();
        builder.AddIdentityAssertionAuthentication(options => options.WriteError = ExportApi.WriteAuthenticationErrorAsync);
        builder.Services.AddAuthorizationBuilder().AddPolicy(ExportApi.PolicyName, policy => policy
            .RequireAuthenticatedUser()
            .RequireAssertion(context => CallerIdentity.FromPrincipal(context.User) is { } caller && ExportApi.MayRead(caller)));

        builder.Services.AddOptions<ExportOptions>().BindConfiguration(ExportOptions.SectionName).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ExportOptions>, ExportOptionsValidator>();
        builder.Services.AddSingleton<CursorProtector>();
        builder.Services.AddSingleton<SpanStore>();
        builder.Services.AddSingleton<TraceListStore>();
        builder.Services.AddSingleton<LogStore>();
        builder.Services.AddSingleton<SpanSearchStore>();
        builder.Services.AddSingleton<SessionStore>();

        // Accept-Encoding: gzip compresses either format as it streams. Fastest: a 10,000-span page is
        // tens of megabytes of JSON, and the better levels cost several times the CPU for a few percent.
        builder.Services.AddResponseCompression(options =>
        {
            options.EnableForHttps = true;
            options.Providers.Add<GzipCompressionProvider>();
            options.MimeTypes = [JsonSpanPageWriter.MediaType, ProtobufSpanPageWriter.MediaType];
        });
        builder.Services.Configure<GzipCompressionProviderOptions>(options => options.Level = CompressionLevel.Fastest);
        return builder;
    }
}
