using Trulayer.Ingest.Pipeline;

namespace Trulayer.Ingest;

/// <summary>Whether ingest takes a request now, and if not, when the client should try again.</summary>
public readonly record struct AdmissionDecision(bool Admitted, string? Reason = null, TimeSpan RetryAfter = default)
{
    public static readonly AdmissionDecision Admit = new(true);

    public static AdmissionDecision Refuse(string reason, TimeSpan retryAfter) => new(false, reason, retryAfter);
}

/// <summary>
/// Decides whether ingest may accept more spans: the place where load is shed (503 + Retry-After)
/// while the pipeline's backlog is too large. IngestService asks it about every request that decoded
/// and has spans to produce, so a malformed or oversized request is answered 400/413 regardless.
/// Registering another implementation replaces the default (<see cref="Admission.LagAwareAdmission"/>).
/// </summary>
public interface IIngestAdmission
{
    /// <summary>Whether a request of <paramref name="signal"/> (spans or log records, each on a topic of its own) is admitted now.</summary>
    ValueTask<AdmissionDecision> AdmitAsync(Guid projectId, OtlpSignal signal, CancellationToken cancellationToken);

    /// <summary>Told about the records of every request Kafka acknowledged, so an admission can learn what the backlog weighs.</summary>
    void Produced(OtlpSignal signal, IReadOnlyList<SpanRecord> records)
    {
    }
}
