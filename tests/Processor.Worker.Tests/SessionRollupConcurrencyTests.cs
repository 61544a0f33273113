using static Trulayer.Processor.Tests.TestSpans;

namespace Trulayer.Processor.Tests;

/// <summary>Two processors writing the traces of the same sessions at once: no deadlock, no lost count.</summary>
public sealed class SessionRollupConcurrencyTests(ProcessorFixture fixture) : IClassFixture<ProcessorFixture>
{
    [Fact]
    public async Task Sessions_TwoProcessorsWritingTheSameSessions_TotalsExactAndNoDeadlock()
    {
        await using var second = new ProcessorHost(fixture.Database.ConnectionString, fixture.Kafka.BootstrapServers, new Dictionary<string, string?>
        {
            ["Kafka:SpansTopic"] = fixture.Topic,
            ["Kafka:LogsTopic"] = fixture.LogsTopic,
            ["Kafka:LogsDeadLetterTopic"] = fixture.LogsDeadLetterTopic,
        }).Start();
        // Both in the group before anything is sent: each owns partitions, so both write.
        await second.WaitUntilAssignedAsync();

        var project = Guid.NewGuid();
        var t0 = new DateTimeOffset(2025, 7, 1, 8, 0, 0, TimeSpan.Zero);
        const int Sessions = 8, TracesPerSession = 50;

        // Each trace a record of its own, keyed by its trace: a session's traces land on many partitions, so both
        // processors write to every session, in batches holding several sessions each.
        var messages = Enumerable.Range(0, Sessions * TracesPerSession).Select(i =>
        {
            var trace = Id(16);
            var root = Span(trace, "turn", t0.AddSeconds(i), TimeSpan.FromSeconds(1), null, Str("session.id", $"s-{i % Sessions}"), Str("user.id", $"u-{i % 3}"));
            var call = Span(trace, "chat", t0.AddSeconds(i).AddMilliseconds(10), TimeSpan.FromMilliseconds(500), root.SpanId,
                Str("gen_ai.operation.name", "chat"), Str("gen_ai.request.model", "gpt-4o"), Int("gen_ai.usage.input_tokens", 7), Dbl("gen_ai.usage.cost", 0.001));
            return ProcessorTests.Record(project, trace, "app", root, call);
        }).ToList();
        await SpanRecords.ProduceAsync(fixture.Kafka, messages, fixture.Topic);
        await ProcessorHost.WaitUntilDrainedAsync(fixture.Kafka, fixture.Topic, TimeSpan.FromSeconds(120));

        var db = fixture.Database.DataSource;
        Assert.Equal(Sessions * TracesPerSession * 2, await ProcessorHost.CountAsync(db, $"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}'"));
        Assert.Equal(Sessions, await ProcessorHost.CountAsync(db,
            $"SELECT count(*) FROM telemetry.sessions WHERE project_id = '{project}' AND trace_count = {TracesPerSession} AND span_count = {TracesPerSession * 2} " +
            $"AND input_tokens = {TracesPerSession * 7} AND cost_micros = {TracesPerSession * 1000} AND cardinality(users) = 3"));
        var logs = fixture.Host.Logs.GetSnapshot().Concat(second.Logs.GetSnapshot()).Select(r => r.Message).ToList();
        Assert.DoesNotContain(logs, m => m.Contains("deadlock", StringComparison.OrdinalIgnoreCase) || m.Contains("40P01", StringComparison.Ordinal));
    }
}
