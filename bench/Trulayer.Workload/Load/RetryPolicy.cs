namespace Trulayer.Workload.Load;

/// <summary>
/// How a well-made OTLP exporter retries (OTLP specification, "Failures" and "Throttling"): only what the
/// server says is transient (HTTP 429, 502, 503, 504; gRPC CANCELLED, DEADLINE_EXCEEDED, ABORTED,
/// OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS, and RESOURCE_EXHAUSTED when the server names a delay) and
/// failures to reach it; waits what Retry-After / grpc-retry-pushback-ms says, otherwise exponential
/// backoff with jitter; never retries a 400, a 413 or a partial success; gives up after
/// <see cref="GiveUpAfter"/>.
/// </summary>
public sealed record RetryPolicy
{
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(10);

    public double Multiplier { get; init; } = 2;

    /// <summary>From the first attempt: after this long a request is abandoned (it was never acknowledged).</summary>
    public TimeSpan GiveUpAfter { get; init; } = TimeSpan.FromMinutes(3);

    public static bool IsRetryableHttpStatus(int status) => status is 429 or 502 or 503 or 504;

    /// <summary>gRPC codes the OTLP specification calls retryable; RESOURCE_EXHAUSTED only with a server-given delay.</summary>
    public static bool IsRetryableGrpcStatus(int code, bool serverGaveDelay) => code switch
    {
        1 or 4 or 10 or 11 or 14 or 15 => true,
        8 => serverGaveDelay,
        _ => false,
    };

    /// <summary>
    /// The wait before attempt <paramref name="attempt"/> + 1: the server's delay when it gave one (plus up
    /// to 10% so many clients do not come back at the same instant), else the backoff with "equal jitter"
    /// (half fixed, half random).
    /// </summary>
    public TimeSpan Delay(int attempt, TimeSpan? serverDelay, Random random)
    {
        if (serverDelay is { } delay && delay > TimeSpan.Zero)
        {
            return delay + delay * (0.1 * random.NextDouble());
        }

        var backoff = InitialBackoff.TotalMilliseconds * Math.Pow(Multiplier, Math.Max(0, attempt - 1));
        backoff = Math.Min(backoff, MaxBackoff.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(backoff / 2 + random.NextDouble() * backoff / 2);
    }
}
