namespace Trulayer.Ingest;

/// <summary>Whether ingest takes a request now, and if not, when the client should try again.</summary>
public readonly record struct AdmissionDecision(bool Admitted, string? Reason = null, TimeSpan RetryAfter = default)
{
    public static readonly AdmissionDecision Admit = new(true);

    public static AdmissionDecision Refuse(string reason, TimeSpan retryAfter) => new(false, reason, retryAfter);
}

/// <summary>
/// Decides at the door, before a request is decoded, whether ingest may accept more spans: the place
/// where load is shed (503 + Retry-After) while the pipeline's backlog is too large. IngestService
/// asks it for every request; registering another implementation replaces the default.
/// </summary>
public interface IIngestAdmission
{
    ValueTask<AdmissionDecision> AdmitAsync(Guid projectId, CancellationToken cancellationToken);
}

/// <summary>The default admission: every request is admitted, Kafka's own acknowledgements being the only limit.</summary>
internal sealed class UnboundedAdmission : IIngestAdmission
{
    public ValueTask<AdmissionDecision> AdmitAsync(Guid projectId, CancellationToken cancellationToken)
        => ValueTask.FromResult(AdmissionDecision.Admit);
}
