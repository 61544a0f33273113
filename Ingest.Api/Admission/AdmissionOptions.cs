using Microsoft.Extensions.Options;

namespace Trulayer.Ingest.Admission;

/// <summary>
/// The "Ingest:Admission" section: how large the processor's backlog may grow, per partition of the
/// spans topic, before ingest refuses new spans (503 + Retry-After, gRPC UNAVAILABLE).
/// </summary>
/// <remarks>
/// Retention is per partition, so the bound is too, in records and in bytes, whichever is reached first.
/// By default both are derived from what the dev broker keeps (5 MiB and 100,000 record batches per
/// partition, the oldest dropped beyond that) less <see cref="SafetyMargin"/>. Against a real cluster, set
/// them from its retention: what a partition holds within <c>retention.bytes</c>, or what arrives in it
/// within <c>retention.ms</c> at the peak rate, less the same kind of margin.
/// </remarks>
public sealed class AdmissionOptions
{
    public const string SectionName = "Ingest:Admission";

    /// <summary>The dev broker (librdkafka's mock cluster) keeps this much of each partition.</summary>
    public const long DevBrokerPartitionBytes = 5L * 1024 * 1024;

    /// <summary>... and this many record batches; a batch holds at least one record, so records bound batches.</summary>
    public const long DevBrokerPartitionBatches = 100_000;

    /// <summary>Off: every request is admitted and Kafka's acknowledgements are the only limit.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The most (estimated) bytes not yet stored in any one partition; unset: derived from the dev broker's retention.</summary>
    public long? MaxPartitionBytes { get; set; }

    /// <summary>The most records not yet stored in any one partition; unset: derived from the dev broker's retention.</summary>
    public long? MaxPartitionRecords { get; set; }

    /// <summary>The share of the dev broker's retention kept free when the bounds are derived (0.5: half).</summary>
    public double SafetyMargin { get; set; } = 0.5;

    /// <summary>Once refusing, admit again when the fullest partition is below this share of the bound (hysteresis).</summary>
    public double ResumeBelow { get; set; } = 0.8;

    /// <summary>How often the processor group's lag is read.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A lag reading older than this is not trusted: admission admits rather than decide on old news.</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(10);

    public long EffectiveMaxPartitionBytes => MaxPartitionBytes ?? (long)(DevBrokerPartitionBytes * (1 - SafetyMargin));

    public long EffectiveMaxPartitionRecords => MaxPartitionRecords ?? (long)(DevBrokerPartitionBatches * (1 - SafetyMargin));
}

internal sealed class AdmissionOptionsValidator : IValidateOptions<AdmissionOptions>
{
    public ValidateOptionsResult Validate(string? name, AdmissionOptions options)
    {
        var failures = new List<string>();
        if (options.MaxPartitionBytes is < 1)
        {
            failures.Add($"Ingest:Admission:MaxPartitionBytes must be a positive number of bytes, or unset to derive it from the dev broker's retention; got {options.MaxPartitionBytes}.");
        }

        if (options.MaxPartitionRecords is < 1)
        {
            failures.Add($"Ingest:Admission:MaxPartitionRecords must be a positive number of records, or unset to derive it from the dev broker's retention; got {options.MaxPartitionRecords}.");
        }

        if (options.SafetyMargin is < 0 or >= 1 || double.IsNaN(options.SafetyMargin))
        {
            failures.Add($"Ingest:Admission:SafetyMargin must be at least 0 and less than 1 (the share of the broker's retention kept free); got {options.SafetyMargin}.");
        }

        if (options.ResumeBelow is <= 0 or > 1 || double.IsNaN(options.ResumeBelow))
        {
            failures.Add($"Ingest:Admission:ResumeBelow must be more than 0 and at most 1 (the share of the bound below which ingest admits again); got {options.ResumeBelow}.");
        }

        if (options.RefreshInterval < TimeSpan.FromMilliseconds(100) || options.RefreshInterval > TimeSpan.FromMinutes(1))
        {
            failures.Add($"Ingest:Admission:RefreshInterval must be between 00:00:00.1 and 00:01:00; got {options.RefreshInterval}.");
        }

        if (options.StaleAfter < options.RefreshInterval * 2)
        {
            failures.Add($"Ingest:Admission:StaleAfter must be at least twice Ingest:Admission:RefreshInterval ({options.RefreshInterval}); got {options.StaleAfter}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
