using Trulayer.Otlp.GenAi;
using Trulayer.Processor.Storage;

namespace Trulayer.Processor.Tests;

public sealed class TraceRollupTests
{
    private static readonly Guid Project = Guid.NewGuid();
    private static readonly Guid Trace = Guid.NewGuid();

    [Fact]
    public void Of_AnyArrivalOrder_GivesTheSameTrace()
    {
        SpanRow[] rows =
        [
            Row(spanId: 5, start: 300, end: 900, parent: 1, name: "child late", service: "b", input: 10, cost: 7, error: true),
            Row(spanId: 1, start: 100, end: 1000, parent: null, name: "root", service: "a", input: null, cost: null),
            Row(spanId: 9, start: 50, end: 60, parent: 1, name: "child early", service: "c", input: 5, cost: 1),
            Row(spanId: 2, start: 100, end: 110, parent: null, name: "second root", service: "a", input: null, cost: null),
        ];

        var expected = Describe(TraceRollup.Of(rows).Single());
        foreach (var order in Permutations(rows))
        {
            Assert.Equal(expected, Describe(TraceRollup.Of(order).Single()));
        }

        Assert.Equal("root|True|50|1000|4|1|a,b,c|15|8", expected);
    }

    [Fact]
    public void Of_NoRootYet_NamesTheTraceAfterItsEarliestSpan()
    {
        var trace = TraceRollup.Of([Row(3, 300, 400, 1, "later"), Row(4, 200, 400, 1, "earlier")]).Single();

        Assert.Equal(("earlier", false), (trace.Name, trace.NameIsRoot));
    }

    [Fact]
    public void Add_HugeTokenCounts_Saturate()
    {
        var trace = TraceRollup.Of([Row(1, 1, 2, null, "a", input: long.MaxValue - 1), Row(2, 1, 2, null, "b", input: 5)]).Single();

        Assert.Equal(long.MaxValue, trace.InputTokens);
    }

    private static string Describe(TraceRollup t)
        => $"{t.Name}|{t.NameIsRoot}|{t.StartUnixNano}|{t.EndUnixNano}|{t.SpanCount}|{t.ErrorCount}|{string.Join(',', t.Services)}|{t.InputTokens}|{t.CostMicros}";

    private static IEnumerable<SpanRow[]> Permutations(SpanRow[] rows)
        => rows.Length <= 1 ? [rows] : rows.SelectMany((row, i) => Permutations([.. rows.Take(i), .. rows.Skip(i + 1)]).Select(rest => (SpanRow[])[row, .. rest]));

    private static SpanRow Row(long spanId, long start, long end, long? parent, string name, string? service = null, long? input = null, long? cost = null, bool error = false) => new()
    {
        ProjectId = Project,
        TraceId = Trace,
        SpanId = spanId,
        ParentSpanId = parent,
        StartUnixNano = start,
        EndUnixNano = end,
        Name = name,
        Kind = 1,
        StatusCode = (short)(error ? 2 : 0),
        StatusMessage = null,
        ServiceName = service,
        SpanType = SpanType.Custom,
        GenAi = new GenAiFields { InputTokens = input, CostMicros = cost },
        AttributeHashes = [],
        ResourceId = Guid.Empty,
        ScopeId = Guid.Empty,
        Otlp = ReadOnlyMemory<byte>.Empty,
        ReceivedAt = DateTime.UnixEpoch,
    };
}
