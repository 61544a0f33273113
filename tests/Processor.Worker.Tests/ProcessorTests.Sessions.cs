using static Trulayer.Processor.Tests.TestSpans;

namespace Trulayer.Processor.Tests;

/// <summary>telemetry.sessions, kept by the processor with the traces: exact after duplicates and replays, and when a late root moves a trace.</summary>
public sealed partial class ProcessorTests
{
    /// <summary>A session's row, aggregated again from telemetry.traces, for comparison with what the processor kept.</summary>
    private const string SessionsFromTraces = """
        SELECT project_id, session_id, min(start_unix_nano) AS first_unix_nano, max(greatest(end_unix_nano, start_unix_nano)) AS last_unix_nano,
               count(*) AS trace_count, sum(span_count)::bigint AS span_count, sum(error_count)::bigint AS error_count,
               coalesce(array_agg(DISTINCT user_id ORDER BY user_id) FILTER (WHERE user_id IS NOT NULL), '{}') AS users,
               sum(input_tokens)::bigint AS input_tokens, sum(output_tokens)::bigint AS output_tokens, sum(cache_read_tokens)::bigint AS cache_read_tokens,
               sum(cache_creation_tokens)::bigint AS cache_creation_tokens, sum(reasoning_tokens)::bigint AS reasoning_tokens, sum(cost_micros)::bigint AS cost_micros
        FROM telemetry.traces WHERE project_id = '@project' AND session_id IS NOT NULL GROUP BY project_id, session_id
        """;

    private const string SessionsKept = """
        SELECT project_id, session_id, first_unix_nano, last_unix_nano, trace_count, span_count, error_count, users,
               input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_micros
        FROM telemetry.sessions WHERE project_id = '@project' AND trace_count > 0
        """;

    [Fact]
    public async Task Sessions_DuplicatesAndReplays_TotalsAreExact()
    {
        var project = Guid.NewGuid();
        var t0 = new DateTimeOffset(2025, 6, 1, 9, 0, 0, TimeSpan.Zero);
        var (first, second, other) = (Id(16), Id(16), Id(16));
        OpenTelemetry.Proto.Trace.V1.Span Turn(Google.Protobuf.ByteString trace, string session, string user, int minute, long input, long output, double cost, bool failed = false)
        {
            var span = Span(trace, "chat", t0.AddMinutes(minute), TimeSpan.FromSeconds(2), null,
                Str("gen_ai.operation.name", "chat"), Str("gen_ai.request.model", "gpt-4o"), Str("session.id", session), Str("user.id", user),
                Int("gen_ai.usage.input_tokens", input), Int("gen_ai.usage.output_tokens", output), Dbl("gen_ai.usage.cost", cost));
            if (failed)
            {
                span.Status = new OpenTelemetry.Proto.Trace.V1.Status { Code = OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode.Error };
            }

            return span;
        }

        var firstTurn = Turn(first, "chat-1", "ada", 0, 100, 10, 0.25);
        var secondTurn = Turn(second, "chat-1", "grace", 5, 200, 20, 0.5, failed: true);
        var tool = Span(second, "lookup", t0.AddMinutes(5).AddSeconds(1), TimeSpan.FromSeconds(30), secondTurn.SpanId, Str("session.id", "chat-1"));
        var elsewhere = Turn(other, "chat-2", "ada", 7, 1, 1, 0.01);

        // Each record twice, then all of them again (a replay after a crash).
        foreach (var message in new[] { Record(project, first, "app", firstTurn), Record(project, second, "app", secondTurn) })
        {
            await Deliver(message);
            await Deliver(message);
        }

        await Deliver(Record(project, second, "app", tool));
        await Deliver(Record(project, other, "app", elsewhere));
        await Deliver(Record(project, first, "app", firstTurn));
        await Deliver(Record(project, second, "app", secondTurn, tool));

        var row = await SessionRow(project, "chat-1");
        Assert.Equal((2L, 3L, 1L), ((long)row["trace_count"], (long)row["span_count"], (long)row["error_count"]));
        Assert.Equal((300L, 30L, 750_000L), ((long)row["input_tokens"], (long)row["output_tokens"], (long)row["cost_micros"]));
        Assert.Equal(["ada", "grace"], (string[])row["users"]);
        Assert.Equal((long)Nanos(t0), (long)row["first_unix_nano"]);
        Assert.Equal((long)Nanos(t0.AddMinutes(5).AddSeconds(31)), (long)row["last_unix_nano"]);
        Assert.True((bool)row["has_error"]);
        await AssertSessionsMatchTraces(project);
    }

    [Fact]
    public async Task Sessions_ALateRootMovesATrace_ItsTotalsMoveAndTheSessionItLeftIsTakenAgain()
    {
        var project = Guid.NewGuid();
        var t0 = new DateTimeOffset(2025, 6, 2, 9, 0, 0, TimeSpan.Zero);
        var (moving, staying) = (Id(16), Id(16));
        var root = Span(moving, "conversation turn", t0, TimeSpan.FromSeconds(3), null, Str("session.id", "from-root"), Str("user.id", "grace"));
        var child = Span(moving, "chat", t0.AddSeconds(1), TimeSpan.FromSeconds(1), root.SpanId,
            Str("gen_ai.operation.name", "chat"), Str("gen_ai.conversation.id", "from-child"), Str("user.id", "linus"), Str("gen_ai.request.model", "gpt-4o"),
            Int("gen_ai.usage.input_tokens", 70), Dbl("gen_ai.usage.cost", 0.5));
        var stayingTurn = Span(staying, "chat", t0.AddMinutes(10), TimeSpan.FromSeconds(1), null,
            Str("gen_ai.operation.name", "chat"), Str("gen_ai.conversation.id", "from-child"), Str("user.id", "ada"), Str("gen_ai.request.model", "gpt-4o"),
            Int("gen_ai.usage.input_tokens", 5), Dbl("gen_ai.usage.cost", 0.125));

        await Deliver(Record(project, moving, "app", child));
        await Deliver(Record(project, staying, "app", stayingTurn));
        var before = await SessionRow(project, "from-child");
        Assert.Equal((2L, 75L), ((long)before["trace_count"], (long)before["input_tokens"]));
        Assert.Equal(["ada", "linus"], (string[])before["users"]);

        await Deliver(Record(project, moving, "app", root));
        await Deliver(Record(project, moving, "app", root, child));

        var left = await SessionRow(project, "from-child");
        Assert.Equal((1L, 1L, 5L, 125_000L), ((long)left["trace_count"], (long)left["span_count"], (long)left["input_tokens"], (long)left["cost_micros"]));
        Assert.Equal(["ada"], (string[])left["users"]);
        Assert.Equal((long)Nanos(t0.AddMinutes(10)), (long)left["first_unix_nano"]);
        var joined = await SessionRow(project, "from-root");
        Assert.Equal((1L, 2L, 70L, 500_000L), ((long)joined["trace_count"], (long)joined["span_count"], (long)joined["input_tokens"], (long)joined["cost_micros"]));
        Assert.Equal(["grace"], (string[])joined["users"]);
        await AssertSessionsMatchTraces(project);
    }

    private async Task<Dictionary<string, object>> SessionRow(Guid project, string session)
    {
        await using var command = Db.CreateCommand($"SELECT * FROM telemetry.sessions WHERE project_id = '{project}' AND session_id = '{session}'");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"no sessions row for {session}");
        return Enumerable.Range(0, reader.FieldCount).ToDictionary(reader.GetName, reader.GetValue);
    }

    /// <summary>Every session the processor kept equals the aggregate of its traces, and the other way round.</summary>
    private async Task AssertSessionsMatchTraces(Guid project)
    {
        var kept = SessionsKept.Replace("@project", project.ToString(), StringComparison.Ordinal);
        var fromTraces = SessionsFromTraces.Replace("@project", project.ToString(), StringComparison.Ordinal);
        Assert.True(await Count($"SELECT count(*) FROM telemetry.sessions WHERE project_id = '{project}' AND trace_count > 0") > 0);
        Assert.Equal(0, await Count($"SELECT count(*) FROM (({kept}) EXCEPT ({fromTraces})) differs"));
        Assert.Equal(0, await Count($"SELECT count(*) FROM (({fromTraces}) EXCEPT ({kept})) differs"));
    }
}
