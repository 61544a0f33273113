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

    [Fact]
    public void Of_AgentAndItsModelCalls_CountsEachModelCallOnce()
    {
        // The AI SDK reports usage on invoke_agent and again on each model call under it; a chain or tool
        // span may carry usage too. Only the model calls (LLM, EMBEDDING) add to the totals.
        SpanRow[] rows =
        [
            Row(1, 100, 900, null, "invoke_agent", input: 350, cost: 35, type: SpanType.Agent),
            Row(2, 110, 400, 1, "chat gpt-4o", input: 100, cost: 10, type: SpanType.Llm),
            Row(3, 410, 800, 1, "chat gpt-4o", input: 200, cost: 20, type: SpanType.Llm),
            Row(4, 810, 850, 1, "embeddings", input: 50, cost: 5, type: SpanType.Embedding),
            Row(5, 120, 130, 1, "workflow", input: 999, cost: 99, type: SpanType.Chain),
            Row(6, 140, 150, 1, "execute_tool", input: 7, cost: 7, type: SpanType.Tool),
        ];

        foreach (var order in new[] { rows, [.. rows.Reverse()] })
        {
            var trace = TraceRollup.Of(order).Single();
            Assert.Equal((350L, 35L, 6L), (trace.InputTokens, trace.CostMicros, trace.SpanCount));
        }
    }

    [Fact]
    public void Of_SessionAndUser_AreChosenLikeTheNameAmongSpansThatHaveOne()
    {
        SpanRow[] rows =
        [
            Row(1, 100, 900, null, "root"),
            Row(7, 300, 400, 1, "late", session: "s-late", user: "u-late"),
            Row(5, 200, 400, 1, "early", session: "s-early"),
            Row(3, 200, 400, 1, "early too, lower id", user: "u-early"),
        ];

        foreach (var order in Permutations(rows))
        {
            var trace = TraceRollup.Of(order).Single();
            Assert.Equal(("s-early", "u-early"), (trace.Session.Value, trace.User.Value));
        }

        var withRoot = TraceRollup.Of([.. rows, Row(2, 500, 600, null, "a later root", session: "s-root")]).Single();
        Assert.Equal(("s-root", true), (withRoot.Session.Value, withRoot.Session.IsRoot));
    }

    [Theory]
    [InlineData("none", "none", "none")]
    [InlineData("reported", "none", "reported")]
    [InlineData("reported", "computed", "computed")]
    [InlineData("computed", "reported", "computed")]
    public void Of_CostSource_IsComputedWhenAnyModelCallsCostWas(string first, string second, string expected)
    {
        static CostSource Parse(string source) => Enum.Parse<CostSource>(source, ignoreCase: true);
        var trace = TraceRollup.Of([
            Row(1, 1, 2, null, "a", cost: first == "none" ? null : 1, costSource: Parse(first)),
            Row(2, 1, 2, 1, "b", cost: second == "none" ? null : 1, costSource: Parse(second))]).Single();

        Assert.Equal(expected, trace.CostSource.ToColumn());
    }

    private static SpanRow Row(
        long spanId, long start, long end, long? parent, string name, string? service = null, long? input = null, long? cost = null, bool error = false,
        SpanType type = SpanType.Llm, string? session = null, string? user = null, CostSource costSource = CostSource.Reported) => new()
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
        SpanType = type,
        GenAi = new GenAiFields { InputTokens = input, CostMicros = cost, SessionId = session, UserId = user },
        CostMicros = cost,
        CostSource = cost is null ? CostSource.None : costSource,
        AttributeHashes = [],
        ResourceId = Guid.Empty,
        ScopeId = Guid.Empty,
        Otlp = ReadOnlyMemory<byte>.Empty,
        ReceivedAt = DateTime.UnixEpoch,
    };
}
