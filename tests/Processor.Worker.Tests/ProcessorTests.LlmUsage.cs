using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Analytics;
using Trulayer.Workload;
using static Trulayer.Processor.Tests.TestSpans;

namespace Trulayer.Processor.Tests;

/// <summary>The usage rollups (migrations 0007 and 0011): written with the spans, from what was inserted, by any number of processors.</summary>
public sealed partial class ProcessorTests
{
    [Fact]
    public async Task LlmUsage_EveryRecordDeliveredTwice_RollupsEqualTheStoredModelCalls()
    {
        var project = Guid.NewGuid();
        var requests = Enumerable.Range(0, 6).Select(_ => StandardBatch.GenAi()).ToList();
        var messages = requests.SelectMany(r => SpanRecords.FromRequest(project, r)).ToList();

        await SpanRecords.ProduceAsync(Kafka, messages, fixture.Topic);
        await SpanRecords.ProduceAsync(Kafka, messages, fixture.Topic);
        await ProcessorHost.WaitUntilDrainedAsync(Kafka, fixture.Topic);

        var modelCalls = await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}' AND span_type IN ('LLM', 'EMBEDDING')");
        Assert.True(modelCalls > 1000, $"the standard batches held {modelCalls} model calls");
        Assert.Equal(modelCalls, await LlmUsageFacts.CallsAsync(Db, project));
        Assert.Equal(0, await LlmUsageFacts.MismatchesAsync(Db, project));
        Assert.Equal(0, await LlmUsageFacts.SketchMismatchesAsync(Db, project));
    }

    [Fact]
    public async Task LlmUsage_OnlyModelCallsCountWithTheirDimensions()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var t0 = new DateTimeOffset(2025, 7, 1, 9, 59, 30, TimeSpan.Zero);
        var agent = Span(trace, "invoke_agent", t0, TimeSpan.FromSeconds(60), null,
            Str("gen_ai.operation.name", "invoke_agent"), Str("gen_ai.request.model", "gpt-4o"), Int("gen_ai.usage.input_tokens", 999), Str("user.id", "ada"));
        var chat = Span(trace, "chat", t0.AddSeconds(40), TimeSpan.FromSeconds(2), agent.SpanId,
            Str("gen_ai.operation.name", "chat"), Str("gen_ai.provider.name", "openai"), Str("gen_ai.request.model", "gpt-4o"),
            Str("gen_ai.response.model", "gpt-4o-2024-08-06"), Int("gen_ai.usage.input_tokens", 100), Int("gen_ai.usage.output_tokens", 10),
            Int("gen_ai.usage.cache_read.input_tokens", 40), Int("gen_ai.usage.reasoning.output_tokens", 4), Dbl("gen_ai.usage.cost", 0.25), Str("user.id", "ada"));
        chat.Status = new Status { Code = Status.Types.StatusCode.Error };
        var embed = Span(trace, "embeddings", t0.AddSeconds(20), TimeSpan.FromMilliseconds(300), agent.SpanId,
            Str("gen_ai.operation.name", "embeddings"), Str("gen_ai.provider.name", "openai"), Str("gen_ai.request.model", "text-embedding-3-small"),
            Int("gen_ai.usage.input_tokens", 7), Dbl("gen_ai.usage.cost", 0.000001));

        await Deliver(Record(project, trace, "app", agent, chat, embed));
        await Deliver(Record(project, trace, "app", chat));

        await using var command = Db.CreateCommand(
            $"SELECT bucket, model, provider, service, span_type, user_id, calls, errors, input_tokens, output_tokens, cache_read_tokens, reasoning_tokens, cost_micros, latency " +
            $"FROM telemetry.llm_usage_minute WHERE project_id = '{project}' ORDER BY span_type, bucket");
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            var latency = reader.GetFieldValue<long[]>(13);
            rows.Add($"{reader.GetDateTime(0):HH:mm} {reader.GetString(1)} {reader.GetString(2)} {reader.GetString(3)} {reader.GetString(4)} {reader.GetString(5)} " +
                     $"{reader.GetInt64(6)} {reader.GetInt64(7)} {reader.GetInt64(8)} {reader.GetInt64(9)} {reader.GetInt64(10)} {reader.GetInt64(11)} {reader.GetInt64(12)} " +
                     string.Join(",", latency.Select(p => $"{LatencySketch.BinOf(p)}:{LatencySketch.CountOf(p)}")));
        }

        Assert.Equal(
        [
            $"09:59 text-embedding-3-small openai app EMBEDDING  1 0 7 0 0 0 1 {LatencySketch.Bin(300_000_000)}:1",
            $"10:00 gpt-4o-2024-08-06 openai app LLM ada 1 1 100 10 40 4 250000 {LatencySketch.Bin(2_000_000_000)}:1",
        ], rows);
        Assert.Equal(2, await Count($"SELECT count(*) FROM telemetry.llm_usage_hour WHERE project_id = '{project}'"));
        Assert.Equal(0, await LlmUsageFacts.MismatchesAsync(Db, project));
    }

    [Fact]
    public async Task LlmUsage_A64KiBModelAndUser_StoredAndCountedUnderTheirFirst256Characters()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var model = "m" + new string('o', 65_000);
        var user = new string('u', 255) + "\U0001F600" + new string('u', 1000);
        var chat = Span(trace, "chat", DateTimeOffset.UtcNow.AddMinutes(-5), TimeSpan.FromSeconds(1), null,
            Str("gen_ai.operation.name", "chat"), Str("gen_ai.request.model", model), Str("user.id", user), Int("gen_ai.usage.input_tokens", 3));

        await Deliver(Record(project, trace, "app", chat));

        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}'"));
        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.llm_usage_minute WHERE project_id = '{project}' AND model = '{model[..256]}' AND user_id = '{user[..255]}' AND input_tokens = 3"));
        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.llm_usage_hour_model WHERE project_id = '{project}' AND model = '{model[..256]}'"));
    }

    [Fact]
    public async Task LlmUsage_TwoProcessorsWritingTheSameBucketsUnderLoad_LoseNothingAndNeverDeadlock()
    {
        var deadlocksBefore = await Count("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()");
        await using var second = new ProcessorHost(fixture.Database.ConnectionString, Kafka.BootstrapServers, new Dictionary<string, string?>
        {
            ["Kafka:SpansTopic"] = fixture.Topic,
            ["Kafka:LogsTopic"] = fixture.LogsTopic,
            ["Kafka:LogsDeadLetterTopic"] = fixture.LogsDeadLetterTopic,
            ["Processor:BatchMaxSpans"] = "500",
        }).Start();
        // Both in the group before anything is sent: each owns partitions, so both write.
        await second.WaitUntilAssignedAsync();
        using var firstWrote = new CounterListener(fixture.Host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "trulayer.processor.spans.written");
        using var secondWrote = new CounterListener(second.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "trulayer.processor.spans.written");

        // Every trace in the same minute: every batch of either processor upserts the same few rollup rows.
        var project = Guid.NewGuid();
        var minute = DateTimeOffset.UtcNow.AddMinutes(-30);
        var requests = Enumerable.Range(0, 12).Select(_ => StandardBatch.GenAi(start: minute)).ToList();
        var messages = requests.SelectMany(r => SpanRecords.FromRequest(project, r)).ToList();
        await SpanRecords.ProduceAsync(Kafka, messages, fixture.Topic);
        await ProcessorHost.WaitUntilDrainedAsync(Kafka, fixture.Topic, TimeSpan.FromSeconds(120));

        Assert.True(firstWrote.Total > 0 && secondWrote.Total > 0, $"both processors should have written: {firstWrote.Total} and {secondWrote.Total} spans");
        var modelCalls = await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}' AND span_type IN ('LLM', 'EMBEDDING')");
        Assert.Equal(12_000, await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}'"));
        Assert.Equal(modelCalls, await LlmUsageFacts.CallsAsync(Db, project));
        Assert.Equal(0, await LlmUsageFacts.MismatchesAsync(Db, project));
        Assert.Equal(0, await LlmUsageFacts.SketchMismatchesAsync(Db, project));
        Assert.Equal(deadlocksBefore, await Count("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"));
    }

    [Fact]
    public void LatencySketch_QuantilesOfALongTailedSample_WithinTwoPercentOfExact()
    {
        var random = new Random(16);
        var values = Enumerable.Range(0, 20_000).Select(_ => (long)(Math.Exp(random.NextDouble() * 12) * 20_000)).Order().ToArray();
        // Two sketches of halves of the sample, merged as a reader merges them.
        var bins = new LatencyHistogram();
        foreach (var half in values.Chunk(values.Length / 2 + 1).Reverse())
        {
            bins.AddPacked([.. half.GroupBy(LatencySketch.Bin).Select(g => LatencySketch.Pack(g.Key, g.LongCount()))]);
        }

        Assert.Equal(values.Length, bins.Total);
        foreach (var q in new[] { 0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0 })
        {
            var exact = values[(int)Math.Floor(q * (values.Length - 1))];
            var estimate = bins.Quantile(q)!.Value;
            Assert.InRange(Math.Abs(estimate - exact) / exact, 0, LatencySketch.RelativeError);
        }
    }
}
