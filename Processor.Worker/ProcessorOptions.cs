using Microsoft.Extensions.Options;
using Trulayer.Otlp.GenAi;

namespace Trulayer.Processor;

/// <summary>The "Processor" configuration section: batching, text caps, retries, liveness.</summary>
public sealed class ProcessorOptions
{
    public const string SectionName = "Processor";

    /// <summary>A batch is written once it holds this many spans...</summary>
    public int BatchMaxSpans { get; set; } = 5000;

    /// <summary>...or this many Kafka records...</summary>
    public int BatchMaxRecords { get; set; } = 1000;

    /// <summary>...or its first record has waited this long.</summary>
    public TimeSpan BatchMaxWait { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Batches written at once, each in its own transaction and connection: with two, one batch's trace
    /// upserts and commit overlap the next one's COPY. Offsets still commit in batch order.
    /// </summary>
    public int MaxBatchesInFlight { get; set; } = 2;

    /// <summary>Cap on input_text and output_text, in UTF-8 bytes; longer text is cut and flagged.</summary>
    public int MaxTextBytes { get; set; } = GenAiMapper.DefaultMaxTextBytes;

    /// <summary>First wait after a failed write (database or DLQ); doubles up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryInitialDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>/health reports the worker loop unhealthy when it has not moved for this long.</summary>
    public TimeSpan LivenessTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often the organizations' model price overrides are read again (a change through another replica applies within this time).</summary>
    public TimeSpan PriceOverridesRefresh { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>At shutdown, how long the batch being written may take to finish before it is abandoned.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>The "Telemetry" section, shared with ingest: how long spans are kept.</summary>
public sealed class TelemetryOptions
{
    public const string SectionName = "Telemetry";

    /// <summary>Days of spans to keep, by span start time; unset keeps everything.</summary>
    public int? RetentionDays { get; set; }
}

internal sealed class ProcessorOptionsValidator : IValidateOptions<ProcessorOptions>
{
    public ValidateOptionsResult Validate(string? name, ProcessorOptions options)
    {
        var failures = new List<string>();
        if (options.BatchMaxSpans is < 1 or > 100_000)
        {
            failures.Add($"Processor:BatchMaxSpans must be between 1 and 100000 (got {options.BatchMaxSpans}).");
        }

        if (options.BatchMaxRecords is < 1 or > 100_000)
        {
            failures.Add($"Processor:BatchMaxRecords must be between 1 and 100000 (got {options.BatchMaxRecords}).");
        }

        if (options.BatchMaxWait < TimeSpan.Zero || options.BatchMaxWait > TimeSpan.FromMinutes(1))
        {
            failures.Add($"Processor:BatchMaxWait must be between 00:00:00 and 00:01:00 (got {options.BatchMaxWait}).");
        }

        if (options.MaxBatchesInFlight is < 1 or > 8)
        {
            failures.Add($"Processor:MaxBatchesInFlight must be between 1 and 8 (got {options.MaxBatchesInFlight}).");
        }

        if (options.MaxTextBytes is < 0 or > 64 * 1024 * 1024)
        {
            failures.Add($"Processor:MaxTextBytes must be between 0 and 67108864 (got {options.MaxTextBytes}).");
        }

        if (options.RetryInitialDelay <= TimeSpan.Zero)
        {
            failures.Add($"Processor:RetryInitialDelay must be positive (got {options.RetryInitialDelay}).");
        }

        if (options.RetryMaxDelay < options.RetryInitialDelay)
        {
            failures.Add($"Processor:RetryMaxDelay must be at least Processor:RetryInitialDelay (got {options.RetryMaxDelay}).");
        }

        if (options.LivenessTimeout < TimeSpan.FromSeconds(1))
        {
            failures.Add($"Processor:LivenessTimeout must be at least 00:00:01 (got {options.LivenessTimeout}).");
        }

        if (options.PriceOverridesRefresh < TimeSpan.FromMilliseconds(100) || options.PriceOverridesRefresh > TimeSpan.FromMinutes(10))
        {
            failures.Add($"Processor:PriceOverridesRefresh must be between 00:00:00.1 and 00:10:00 (got {options.PriceOverridesRefresh}).");
        }

        if (options.ShutdownTimeout < TimeSpan.Zero)
        {
            failures.Add($"Processor:ShutdownTimeout must not be negative (got {options.ShutdownTimeout}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

internal sealed class TelemetryOptionsValidator : IValidateOptions<TelemetryOptions>
{
    public ValidateOptionsResult Validate(string? name, TelemetryOptions options)
        => options.RetentionDays is { } days and (< 1 or > 36_500)
            ? ValidateOptionsResult.Fail($"Telemetry:RetentionDays must be between 1 and 36500 days, or unset to keep everything (got {days}).")
            : ValidateOptionsResult.Success;
}
