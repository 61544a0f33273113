using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Options;

namespace Trulayer.Export.Tests;

/// <summary>A missing or weak setting stops Export.Api at start with a message naming the key.</summary>
public sealed class OptionsTests
{
    [Theory]
    [InlineData(null, "Export:CursorKey is missing")]
    [InlineData("REPLACE-ME-export-cursor-key", "Export:CursorKey is not valid base64")]
    [InlineData("c2hvcnQ=", "Export:CursorKey holds 5 bytes; it needs at least 32")]
    public void Start_BadCursorKey_FailsNamingTheKey(string? key, string message)
    {
        using var factory = new ExportFactory(new() { ["Export:CursorKey"] = key });

        var error = Assert.Throws<OptionsValidationException>(() => factory.Server);

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Export:MaxWindow", "-1.00:00:00", "Export:MaxWindow must be a positive time span")]
    [InlineData("Export:MaxSpansPerPage", "20000", "Export:MaxSpansPerPage must be between 1 and 10000")]
    [InlineData("Export:TraceListDefaultLimit", "5000", "Export:TraceListDefaultLimit must be between 1 and Export:TraceListMaxLimit (1000)")]
    public void Start_BadBound_FailsNamingTheKey(string setting, string value, string message)
    {
        using var factory = new ExportFactory(new() { ["Export:CursorKey"] = Convert.ToBase64String(new byte[32]), [setting] = value });

        var error = Assert.Throws<OptionsValidationException>(() => factory.Server);

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    private sealed class ExportFactory(Dictionary<string, string?> settings) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("ConnectionStrings:trulayer", "Host=127.0.0.1;Port=1;Username=none;Database=none");
            builder.UseSetting(TestIdentity.Configuration.Key, TestIdentity.Configuration.Value);
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
        }
    }
}
