using System.Globalization;
using System.Text;

namespace Trulayer.Ingest.Pipeline;

/// <summary>Why a span or log record was refused alone while the rest of its request was accepted.</summary>
public enum RejectReason
{
    InvalidTraceId,
    InvalidSpanId,
    InvalidParentSpanId,
    EndBeforeStart,
    NestedTooDeep,
    OutsideRetention,
    TooLarge,

    /// <summary>A log record's trace_id that is neither empty nor 16 bytes.</summary>
    InvalidOptionalTraceId,

    /// <summary>A log record's span_id that is neither empty nor 8 bytes.</summary>
    InvalidOptionalSpanId,

    /// <summary>A log record with a span_id but no trace_id.</summary>
    SpanIdWithoutTraceId,

    /// <summary>A log record under a resource with more attributes than Ingest:MaxResourceAttributes.</summary>
    TooManyResourceAttributes,
}

/// <summary>What was cut from a span that was kept (reported as a warning).</summary>
[Flags]
public enum Truncations
{
    None = 0,
    KeyTooLong = 1,
    ValueTooLarge = 2,
    TooManyAttributes = 4,
    TooManyEvents = 8,
    TooManyLinks = 16,
    BodyTooLarge = 32,
}

/// <summary>
/// The count of a request's spans (or log records: <paramref name="noun"/>) by outcome, and the
/// partial_success message that names each reason with its count and the limit involved.
/// </summary>
public sealed class SpanTally(string noun = "spans")
{
    private static readonly Truncations[] AllTruncations =
        [Truncations.KeyTooLong, Truncations.ValueTooLarge, Truncations.TooManyAttributes, Truncations.TooManyEvents, Truncations.TooManyLinks, Truncations.BodyTooLarge];

    private readonly int[] _rejected = new int[Enum.GetValues<RejectReason>().Length];
    private readonly int[] _truncated = new int[AllTruncations.Length];

    /// <summary>Every span the request held.</summary>
    public int Received { get; internal set; }

    public int Rejected { get; private set; }

    /// <summary>Spans kept with something cut.</summary>
    public int Truncated { get; private set; }

    public int Accepted => Received - Rejected;

    public int RejectedFor(RejectReason reason) => _rejected[(int)reason];

    public int TruncatedFor(Truncations truncation) => _truncated[Array.IndexOf(AllTruncations, truncation)];

    internal void Reject(RejectReason reason)
    {
        _rejected[(int)reason]++;
        Rejected++;
    }

    internal void Truncate(Truncations truncations)
    {
        Truncated++;
        for (var i = 0; i < AllTruncations.Length; i++)
        {
            if ((truncations & AllTruncations[i]) != 0)
            {
                _truncated[i]++;
            }
        }
    }

    /// <summary>The partial_success error message, or null when every span was accepted whole.</summary>
    public string? Describe(IngestOptions limits)
    {
        if (Rejected == 0 && Truncated == 0)
        {
            return null;
        }

        var text = new StringBuilder();
        if (Rejected > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"{Rejected} of {Received} {noun} rejected: ");
            var first = true;
            for (var i = 0; i < _rejected.Length; i++)
            {
                if (_rejected[i] == 0)
                {
                    continue;
                }

                text.Append(first ? "" : "; ").Append(CultureInfo.InvariantCulture, $"{_rejected[i]} {Describe((RejectReason)i, limits)}");
                first = false;
            }

            text.Append('.');
        }

        if (Truncated > 0)
        {
            text.Append(text.Length > 0 ? " " : "")
                .Append(CultureInfo.InvariantCulture, $"Warning: {Truncated} {noun} accepted truncated: ");
            var first = true;
            for (var i = 0; i < _truncated.Length; i++)
            {
                if (_truncated[i] == 0)
                {
                    continue;
                }

                text.Append(first ? "" : "; ").Append(CultureInfo.InvariantCulture, $"{_truncated[i]} {Describe(AllTruncations[i], limits)}");
                first = false;
            }

            text.Append('.');
        }

        return text.ToString();
    }

    private static string Describe(RejectReason reason, IngestOptions limits) => reason switch
    {
        RejectReason.InvalidTraceId => "with a trace_id that is missing, not 16 bytes, or all zeros",
        RejectReason.InvalidSpanId => "with a span_id that is missing, not 8 bytes, or all zeros",
        RejectReason.InvalidParentSpanId => "with a parent_span_id that is neither empty nor 8 bytes",
        RejectReason.EndBeforeStart => "with end_time_unix_nano before start_time_unix_nano",
        RejectReason.NestedTooDeep => $"with attribute values nested deeper than {IngestOptions.MaxValueDepth} levels",
        RejectReason.OutsideRetention => $"dated before the {limits.RetentionDays}-day retention window (Telemetry:RetentionDays)",
        RejectReason.TooLarge => $"over {limits.MaxRecordBytes} bytes encoded even after truncation (the Kafka record limit)",
        RejectReason.InvalidOptionalTraceId => "with a trace_id that is neither empty nor 16 bytes",
        RejectReason.InvalidOptionalSpanId => "with a span_id that is neither empty nor 8 bytes",
        RejectReason.SpanIdWithoutTraceId => "with a span_id but no trace_id",
        RejectReason.TooManyResourceAttributes => $"under a resource with more than {limits.MaxResourceAttributes} attributes",
        _ => reason.ToString(),
    };

    private static string Describe(Truncations truncation, IngestOptions limits) => truncation switch
    {
        Truncations.KeyTooLong => $"with attribute keys over {limits.MaxAttributeKeyBytes} bytes (cut)",
        Truncations.ValueTooLarge => $"with attribute values over {limits.MaxAttributeValueBytes} bytes (cut)",
        Truncations.TooManyAttributes => $"with more than {limits.MaxAttributesPerSpan} attributes (the rest dropped and counted in dropped_attributes_count)",
        Truncations.TooManyEvents => $"with more than {limits.MaxEventsPerSpan} events (the rest dropped and counted in dropped_events_count)",
        Truncations.TooManyLinks => $"with more than {limits.MaxLinksPerSpan} links (the rest dropped and counted in dropped_links_count)",
        Truncations.BodyTooLarge => $"with a body over {limits.MaxAttributeValueBytes} bytes (cut)",
        _ => truncation.ToString(),
    };
}
