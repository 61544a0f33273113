using Trulayer.Otlp.GenAi;

namespace Trulayer.Processor.Storage;

/// <summary>
/// What a set of newly stored spans adds to one telemetry.traces row. Every part combines in any order
/// (minimum, maximum, sums, set union, and a name, session and user each chosen by rank), so a trace comes
/// out the same however its spans are split across batches and whatever order they arrive in. Usage and
/// cost are summed over model calls only (<see cref="Otlp.GenAi.SpanTypeRules.IsModelCall"/>): an agent or
/// workflow span that reports the usage of the calls under it keeps it on its own row and adds nothing,
/// so each model call counts once.
/// </summary>
internal sealed class TraceRollup(Guid projectId, Guid traceId)
{
    public Guid ProjectId { get; } = projectId;
    public Guid TraceId { get; } = traceId;

    public string Name { get; private set; } = "";
    public bool NameIsRoot { get; private set; }
    public long NameStartUnixNano { get; private set; } = long.MaxValue;
    public long NameSpanId { get; private set; } = long.MaxValue;
    public long StartUnixNano { get; private set; } = long.MaxValue;
    public long EndUnixNano { get; private set; } = long.MinValue;
    public long SpanCount { get; private set; }
    public long ErrorCount { get; private set; }
    public SortedSet<string> Services { get; } = new(StringComparer.Ordinal);

    /// <summary>The request and response models of the trace's spans (the trace list shows and filters on them).</summary>
    public SortedSet<string> Models { get; } = new(StringComparer.Ordinal);
    public long InputTokens { get; private set; }
    public long OutputTokens { get; private set; }
    public long CacheReadTokens { get; private set; }
    public long CacheCreationTokens { get; private set; }
    public long ReasoningTokens { get; private set; }
    public long CostMicros { get; private set; }

    /// <summary>computed when any model call's cost was computed, else reported when any was reported, else none.</summary>
    public CostSource CostSource { get; private set; }

    /// <summary>The session of the best-ranked span that has one (ranked like the name).</summary>
    public RankedValue Session { get; } = new();

    /// <summary>The user likewise.</summary>
    public RankedValue User { get; } = new();
    public DateTime FirstReceivedAt { get; private set; } = DateTime.MaxValue;
    public DateTime LastReceivedAt { get; private set; } = DateTime.MinValue;

    public DateTime StartTime => UnixNanos.ToDateTime(StartUnixNano);

    /// <summary>Rolls up the given rows per (project, trace), in key order (the order rows are locked in).</summary>
    public static List<TraceRollup> Of(IEnumerable<SpanRow> rows)
    {
        var traces = new Dictionary<(Guid, Guid), TraceRollup>();
        foreach (var row in rows)
        {
            if (!traces.TryGetValue((row.ProjectId, row.TraceId), out var trace))
            {
                trace = new TraceRollup(row.ProjectId, row.TraceId);
                traces.Add((row.ProjectId, row.TraceId), trace);
            }

            trace.Add(row);
        }

        var result = traces.Values.ToList();
        result.Sort((a, b) => a.ProjectId != b.ProjectId ? a.ProjectId.CompareTo(b.ProjectId) : a.TraceId.CompareTo(b.TraceId));
        return result;
    }

    public void Add(SpanRow row)
    {
        // The name comes from the earliest root span; until a root arrives, from the earliest span. Span id
        // breaks ties, so the choice is the same in every order.
        if (Outranks(row, NameIsRoot, NameStartUnixNano, NameSpanId))
        {
            Name = row.Name;
            NameIsRoot = row.IsRoot;
            NameStartUnixNano = row.StartUnixNano;
            NameSpanId = row.SpanId;
        }

        StartUnixNano = Math.Min(StartUnixNano, row.StartUnixNano);
        EndUnixNano = Math.Max(EndUnixNano, row.EndUnixNano);
        SpanCount++;
        ErrorCount += row.IsError ? 1 : 0;
        if (row.ServiceName is { } service)
        {
            Services.Add(service);
        }

        var genAi = row.GenAi;
        if (genAi.RequestModel is { } requestModel)
        {
            Models.Add(requestModel);
        }

        if (genAi.ResponseModel is { } responseModel)
        {
            Models.Add(responseModel);
        }

        Session.Offer(genAi.SessionId, row);
        User.Offer(genAi.UserId, row);
        FirstReceivedAt = row.ReceivedAt < FirstReceivedAt ? row.ReceivedAt : FirstReceivedAt;
        LastReceivedAt = row.ReceivedAt > LastReceivedAt ? row.ReceivedAt : LastReceivedAt;
        if (!row.SpanType.IsModelCall())
        {
            return;
        }

        InputTokens = Saturating(InputTokens, genAi.InputTokens);
        OutputTokens = Saturating(OutputTokens, genAi.OutputTokens);
        CacheReadTokens = Saturating(CacheReadTokens, genAi.CacheReadTokens);
        CacheCreationTokens = Saturating(CacheCreationTokens, genAi.CacheCreationTokens);
        ReasoningTokens = Saturating(ReasoningTokens, genAi.ReasoningTokens);
        CostMicros = Saturating(CostMicros, row.CostMicros);
        CostSource = row.CostSource > CostSource ? row.CostSource : CostSource;
    }

    /// <summary>Whether <paramref name="row"/> outranks the span (root, start, id) that gave the current choice.</summary>
    internal static bool Outranks(SpanRow row, bool isRoot, long startUnixNano, long spanId)
        => row.IsRoot != isRoot ? row.IsRoot : row.StartUnixNano < startUnixNano || (row.StartUnixNano == startUnixNano && row.SpanId < spanId);

    /// <summary>Adds without overflowing: absurd client-sent counts must not make a trace unstorable.</summary>
    private static long Saturating(long total, long? value)
        => value is not { } v ? total : v > long.MaxValue - total ? long.MaxValue : total + v;
}

/// <summary>A trace's value chosen like its name: from the root span, else the earliest span, then the lowest span id, among spans that have one.</summary>
internal sealed class RankedValue
{
    public string? Value { get; private set; }
    public bool IsRoot { get; private set; }
    public long StartUnixNano { get; private set; } = long.MaxValue;
    public long SpanId { get; private set; } = long.MaxValue;

    public void Offer(string? value, SpanRow row)
    {
        if (value is not null && (Value is null || TraceRollup.Outranks(row, IsRoot, StartUnixNano, SpanId)))
        {
            Value = value;
            IsRoot = row.IsRoot;
            StartUnixNano = row.StartUnixNano;
            SpanId = row.SpanId;
        }
    }
}
