using System.Collections.Concurrent;

namespace Trulayer.Workload.Load;

/// <summary>How a request of a load run ended.</summary>
public enum RequestState
{
    /// <summary>Not settled yet.</summary>
    Pending,

    /// <summary>Ingest answered 200 / OK: its spans (less any rejected in partial_success) must be stored.</summary>
    Acknowledged,

    /// <summary>Refused with a status that must not be retried.</summary>
    Refused,

    /// <summary>Retried until the policy gave up; never acknowledged.</summary>
    Abandoned,
}

/// <summary>One request of the run: its spans and how it ended.</summary>
public readonly record struct LedgerEntry(int Spans, RequestState State, long RejectedSpans);

/// <summary>
/// What each request of a load run came to, by request number (its ids say the number, see
/// <see cref="RunIds"/>): the side of the books that PostgreSQL's count is checked against.
/// </summary>
public sealed class SpanLedger
{
    private readonly ConcurrentDictionary<long, LedgerEntry> _entries = new();

    public int Count => _entries.Count;

    internal void Begin(long request, int spans) => _entries[request] = new LedgerEntry(spans, RequestState.Pending, 0);

    internal void Settle(long request, RequestState state, long rejected = 0)
        => _entries.AddOrUpdate(request, _ => throw new InvalidOperationException($"request {request} was never begun"), (_, e) => e with { State = state, RejectedSpans = rejected });

    public bool TryGet(long request, out LedgerEntry entry) => _entries.TryGetValue(request, out entry);

    public IEnumerable<KeyValuePair<long, LedgerEntry>> Entries => _entries;
}
