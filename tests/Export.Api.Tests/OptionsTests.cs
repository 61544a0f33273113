using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Trulayer.Export.Tests;

/// <summary>A missing or weak setting stops Export.Api at start with a message naming the key.</summary>
public sealed class OptionsTests
{
    [Theory]
    [InlineData(null, "Export:CursorKey is missing")]
    [InlineData("REPLACE-ME-export-cursor-key", "Export:CursorKey is not valid base64")]
    [InlineData("c2hvcnQ=", "Export:CursorKey holds 5 bytes; it needs at least 32")]
    public async Task Start_BadCursorKey_FailsNamingTheKey(string? key, string message)
    {
        var error = await StartFailsAsync(new() { ["Export:CursorKey"] = key });

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Export:MaxWindow", "-1.00:00:00", "Export:MaxWindow must be a positive time span")]
    [InlineData("Export:MaxSpansPerPage", "20000", "Export:MaxSpansPerPage must be between 1 and 10000")]
    [InlineData("Export:TraceListDefaultLimit", "5000", "Export:TraceListDefaultLimit must be between 1 and Export:TraceListMaxLimit (1000)")]
    public async Task Start_BadBound_FailsNamingTheKey(string setting, string value, string message)
    {
        var error = await StartFailsAsync(new() { ["Export:CursorKey"] = Convert.ToBase64String(new byte[32]), [setting] = value });

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Builds the service as Program does (ServiceDefaults, then Export's services) and starts it. Not
    /// WebApplicationFactory: when the host fails to start, its deferred host can lose the exception to
    /// an ObjectDisposedException.
    /// </summary>
    private static async Task<OptionsValidationException> StartFailsAsync(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:trulayer"] = "Host=127.0.0.1;Port=1;Username=none;Database=none",
            [TestIdentity.Configuration.Key] = TestIdentity.Configuration.Value,
        });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServiceDefaults();
        builder.AddExportServices();
        await using var app = builder.Build();
        return await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
    }
}
