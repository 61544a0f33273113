using Microsoft.Extensions.Options;

namespace Trulayer.Export;

/// <summary>The "Export" section: the cursor signing key and the bounds of one request.</summary>
public sealed class ExportOptions
{
    public const string SectionName = "Export";

    /// <summary>The most spans one export response may carry (the spec's cap); <c>limit</c> asks for fewer.</summary>
    public const int SpanCap = 10_000;

    /// <summary>
    /// Base64 of at least 32 random bytes: the HMAC key that makes cursors tamper-evident. Every replica
    /// needs the same value; changing it invalidates the cursors handed out before. A secret.
    /// </summary>
    public string CursorKey { get; set; } = "";

    /// <summary>The widest <c>from</c>..<c>to</c> window one export may ask for.</summary>
    public TimeSpan MaxWindow { get; set; } = TimeSpan.FromDays(31);

    /// <summary>Spans per export response when the request gives no <c>limit</c>, and the most it may ask for.</summary>
    public int MaxSpansPerPage { get; set; } = SpanCap;

    /// <summary>Traces per trace-list response when the request gives no <c>limit</c>.</summary>
    public int TraceListDefaultLimit { get; set; } = 50;

    /// <summary>The most traces one trace-list response may carry.</summary>
    public int TraceListMaxLimit { get; set; } = 1000;

    internal byte[] CursorKeyBytes() => Convert.FromBase64String(CursorKey);
}

internal sealed class ExportOptionsValidator : IValidateOptions<ExportOptions>
{
    public const int MinimumKeyBytes = 32;

    public ValidateOptionsResult Validate(string? name, ExportOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.CursorKey))
        {
            failures.Add("Export:CursorKey is missing: set it to base64 of at least 32 random bytes, the same for every export replica " +
                          "(e.g. Export__CursorKey=$(openssl rand -base64 32)).");
        }
        else
        {
            try
            {
                var key = options.CursorKeyBytes();
                if (key.Length < MinimumKeyBytes)
                {
                    failures.Add($"Export:CursorKey holds {key.Length} bytes; it needs at least {MinimumKeyBytes}.");
                }
            }
            catch (FormatException)
            {
                failures.Add("Export:CursorKey is not valid base64: set it to base64 of at least 32 random bytes.");
            }
        }

        if (options.MaxWindow <= TimeSpan.Zero)
        {
            failures.Add($"Export:MaxWindow must be a positive time span such as 31.00:00:00; got {options.MaxWindow}.");
        }

        if (options.MaxSpansPerPage is < 1 or > ExportOptions.SpanCap)
        {
            failures.Add($"Export:MaxSpansPerPage must be between 1 and {ExportOptions.SpanCap}; got {options.MaxSpansPerPage}.");
        }

        if (options.TraceListMaxLimit < 1)
        {
            failures.Add($"Export:TraceListMaxLimit must be at least 1; got {options.TraceListMaxLimit}.");
        }

        if (options.TraceListDefaultLimit < 1 || options.TraceListDefaultLimit > options.TraceListMaxLimit)
        {
            failures.Add($"Export:TraceListDefaultLimit must be between 1 and Export:TraceListMaxLimit ({options.TraceListMaxLimit}); got {options.TraceListDefaultLimit}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
