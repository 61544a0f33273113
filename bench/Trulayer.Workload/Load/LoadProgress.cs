using System.Collections.Concurrent;
using System.Diagnostics;

namespace Trulayer.Workload.Load;

/// <summary>The live counters of a load run, updated by every sender, read by the progress view and the report.</summary>
public sealed class LoadProgress
{
    private const int SamplesPerStatus = 8;
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly ConcurrentDictionary<string, long> _statuses = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentQueue<string>> _messages = new(StringComparer.Ordinal);
    private long _requests;
    private long _spansSent;
    private long _attempts;
    private long _retries;
    private long _acknowledgedRequests;
    private long _acknowledgedSpans;
    private long _partiallyRejectedSpans;
    private long _refusedRequests;
    private long _refusedSpans;
    private long _abandonedRequests;
    private long _abandonedSpans;
    private long _inFlight;

    /// <summary>Latency of attempts ingest acknowledged (send to answer, through the gateway).</summary>
    public LatencyHistogram AcceptedLatency { get; } = new();

    internal void RequestStarted(int spans)
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Add(ref _spansSent, spans);
        Interlocked.Increment(ref _inFlight);
    }

    internal void Attempted(ExportAttempt attempt, bool retry)
    {
        Interlocked.Increment(ref _attempts);
        if (retry)
        {
            Interlocked.Increment(ref _retries);
        }

        _statuses.AddOrUpdate(attempt.Status, 1, (_, n) => n + 1);
        if (attempt.Outcome == AttemptOutcome.Accepted)
        {
            AcceptedLatency.Record(attempt.Latency);
            if (attempt.Message is null)
            {
                return;
            }
        }

        if (attempt.Message is { Length: > 0 } message)
        {
            var samples = _messages.GetOrAdd(attempt.Status, _ => new ConcurrentQueue<string>());
            if (samples.Count < SamplesPerStatus && !samples.Contains(message))
            {
                samples.Enqueue(message);
            }
        }
    }

    internal void Acknowledged(int spans, long rejected)
    {
        Interlocked.Increment(ref _acknowledgedRequests);
        Interlocked.Add(ref _acknowledgedSpans, spans - rejected);
        Interlocked.Add(ref _partiallyRejectedSpans, rejected);
        Interlocked.Decrement(ref _inFlight);
    }

    internal void Refused(int spans)
    {
        Interlocked.Increment(ref _refusedRequests);
        Interlocked.Add(ref _refusedSpans, spans);
        Interlocked.Decrement(ref _inFlight);
    }

    internal void Abandoned(int spans)
    {
        Interlocked.Increment(ref _abandonedRequests);
        Interlocked.Add(ref _abandonedSpans, spans);
        Interlocked.Decrement(ref _inFlight);
    }

    /// <summary>Some of the messages that came with each status (a 503's reason, say), for the report and for tests.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Messages
        => _messages.ToDictionary(m => m.Key, m => (IReadOnlyList<string>)[.. m.Value], StringComparer.Ordinal);

    public LoadSnapshot Snapshot() => new(
        Stopwatch.GetElapsedTime(_started),
        Interlocked.Read(ref _requests),
        Interlocked.Read(ref _spansSent),
        Interlocked.Read(ref _attempts),
        Interlocked.Read(ref _retries),
        Interlocked.Read(ref _acknowledgedRequests),
        Interlocked.Read(ref _acknowledgedSpans),
        Interlocked.Read(ref _partiallyRejectedSpans),
        Interlocked.Read(ref _refusedRequests),
        Interlocked.Read(ref _refusedSpans),
        Interlocked.Read(ref _abandonedRequests),
        Interlocked.Read(ref _abandonedSpans),
        Interlocked.Read(ref _inFlight),
        new SortedDictionary<string, long>(_statuses, StringComparer.Ordinal),
        AcceptedLatency.Snapshot());
}

/// <summary>The counters of a load run at one moment.</summary>
/// <param name="Elapsed">Since the run started.</param>
/// <param name="Requests">Requests begun (each counted once however often it was retried).</param>
/// <param name="SpansSent">Spans in those requests.</param>
/// <param name="Attempts">Every send, first tries and retries.</param>
/// <param name="Retries">Sends that repeated an earlier one.</param>
/// <param name="AcknowledgedRequests">Requests ingest answered 200 / OK.</param>
/// <param name="AcknowledgedSpans">Spans of those requests, less those rejected in partial_success.</param>
/// <param name="PartiallyRejectedSpans">Spans ingest rejected in partial_success.</param>
/// <param name="RefusedRequests">Requests answered with a status that must not be retried (400, 413, ...).</param>
/// <param name="RefusedSpans">Spans of those requests.</param>
/// <param name="AbandonedRequests">Requests given up after the retry policy's limit.</param>
/// <param name="AbandonedSpans">Spans of those requests.</param>
/// <param name="InFlight">Requests begun and not yet settled.</param>
/// <param name="Statuses">How often each status was answered ("200", "503", "grpc 14", "connection", "timeout").</param>
/// <param name="Latency">Latency of acknowledged attempts.</param>
public sealed record LoadSnapshot(
    TimeSpan Elapsed,
    long Requests,
    long SpansSent,
    long Attempts,
    long Retries,
    long AcknowledgedRequests,
    long AcknowledgedSpans,
    long PartiallyRejectedSpans,
    long RefusedRequests,
    long RefusedSpans,
    long AbandonedRequests,
    long AbandonedSpans,
    long InFlight,
    IReadOnlyDictionary<string, long> Statuses,
    LatencySnapshot Latency)
{
    public long Status(string status) => Statuses.TryGetValue(status, out var count) ? count : 0;
}
