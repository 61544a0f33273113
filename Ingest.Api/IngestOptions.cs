using Microsoft.Extensions.Options;

namespace Trulayer.Ingest;

/// <summary>
/// The "Ingest" section: what one request may carry and how spans are bounded (ActivityLog's limits
/// table, DESIGN.md "HTTP surface"). The defaults are the documented limits.
/// </summary>
public sealed class IngestOptions
{
    public const string SectionName = "Ingest";

    /// <summary>The largest request body, measured after decompression.</summary>
    public int MaxRequestBytes { get; set; } = 20 * 1024 * 1024;

    public int MaxSpansPerRequest { get; set; } = 10_000;

    public int MaxLogRecordsPerRequest { get; set; } = 10_000;

    /// <summary>Longer attribute keys are cut to this many bytes.</summary>
    public int MaxAttributeKeyBytes { get; set; } = 256;

    /// <summary>Larger attribute values (strings, bytes, arrays, maps) are cut to this many bytes.</summary>
    public int MaxAttributeValueBytes { get; set; } = 64 * 1024;

    /// <summary>Attributes kept per span, event and link; the rest are dropped and counted.</summary>
    public int MaxAttributesPerSpan { get; set; } = 128;

    /// <summary>Log records under a resource with more attributes are rejected (spans are not bound by it).</summary>
    public int MaxResourceAttributes { get; set; } = 256;

    public int MaxEventsPerSpan { get; set; } = 128;

    public int MaxLinksPerSpan { get; set; } = 32;

    /// <summary>
    /// The largest Kafka record value: a trace group above it is split into several records with the
    /// same key. Under Kafka's default max.message.bytes (1 MiB), with room for the key and framing.
    /// </summary>
    public int MaxRecordBytes { get; set; } = 1_000_000;

    /// <summary>What a 503 tells the client to wait before retrying (Retry-After, grpc-retry-pushback-ms).</summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Telemetry:RetentionDays, when set: a span that starts before the retention window is rejected in
    /// partial_success instead of being stored only to age out at once.
    /// </summary>
    public int? RetentionDays { get; set; }

    /// <summary>How deeply attribute values (arrays, maps) may nest; deeper spans are rejected.</summary>
    public const int MaxValueDepth = 16;
}

internal sealed class IngestOptionsValidator : IValidateOptions<IngestOptions>
{
    public ValidateOptionsResult Validate(string? name, IngestOptions options)
    {
        var failures = new List<string>();
        Positive(options.MaxRequestBytes, "MaxRequestBytes", failures, max: 256 * 1024 * 1024);
        Positive(options.MaxSpansPerRequest, "MaxSpansPerRequest", failures);
        Positive(options.MaxLogRecordsPerRequest, "MaxLogRecordsPerRequest", failures);
        Positive(options.MaxAttributeKeyBytes, "MaxAttributeKeyBytes", failures);
        Positive(options.MaxAttributeValueBytes, "MaxAttributeValueBytes", failures);
        Positive(options.MaxAttributesPerSpan, "MaxAttributesPerSpan", failures);
        Positive(options.MaxResourceAttributes, "MaxResourceAttributes", failures);
        Positive(options.MaxEventsPerSpan, "MaxEventsPerSpan", failures);
        Positive(options.MaxLinksPerSpan, "MaxLinksPerSpan", failures);
        if (options.MaxRecordBytes is < 4096 or > 1_000_000)
        {
            failures.Add($"Ingest:MaxRecordBytes must be between 4096 and 1000000 (Kafka's default max.message.bytes is 1 MiB); got {options.MaxRecordBytes}.");
        }

        if (options.RetryAfter < TimeSpan.FromSeconds(1))
        {
            failures.Add($"Ingest:RetryAfter must be at least one second; got {options.RetryAfter}.");
        }

        if (options.RetentionDays is <= 0)
        {
            failures.Add($"Telemetry:RetentionDays must be a positive number of days, or unset to keep everything; got {options.RetentionDays}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Positive(int value, string key, List<string> failures, int max = int.MaxValue)
    {
        if (value <= 0 || value > max)
        {
            failures.Add($"Ingest:{key} must be between 1 and {max}; got {value}.");
        }
    }
}
