using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Analytics;
using Trulayer.Workload;
using static Trulayer.Processor.Tests.TestSpans;

namespace Trulayer.Processor.Tests;

/// <summary>The usage rollups (migrations 0007, 0011 and 0014): written with the spans, from what was inserted, by any number of processors.</summary>
public sealed partial class ProcessorTests
{
    [Fact]
    public async Task LlmUsage_EveryRecordDeliveredTwice_RollupsEqualTheStoredModelCalls()
    {
        var project = Guid.NewGuid();
        var requests = Enumerable.Range(0, 6).Select(_ => WithTimeToFirstToken(StandardBatch.GenAi())).ToList();
        var messages = requests.SelectMany(r => SpanRecords.FromRequest(project, r)).ToList();

        await SpanRecords.ProduceAsync(Kafka, messages, fixture.Topic);
        await SpanRecords.ProduceAsync(Kafka, messages, fixture.Topic);
        await ProcessorHost.WaitUntilDrainedAsync(Kafka, fixture.Topic);

        var modelCalls = await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}' AND span_type IN ('LLM', 'EMBEDDING')");
        Assert.True(modelCalls > 1000, $"the standard batches held {modelCalls} model calls");
        Assert.InRange(await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}' AND time_to_first_token_nanos IS NOT NULL"), 1, modelCalls - 1);
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
        var requests = Enumerable.Range(0, 12).Select(_ => WithTimeToFirstToken(StandardBatch.GenAi(start: minute))).ToList();
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
    public async Task LlmUsage_TimeToFirstToken_StoredOnTheSpanAndInASecondSketchOfTheCallsThatCarryIt()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var t0 = new DateTimeOffset(2025, 7, 2, 10, 0, 5, TimeSpan.Zero);
        KeyValue[] Chat(params KeyValue[] more) =>
            [Str("gen_ai.operation.name", "chat"), Str("gen_ai.provider.name", "openai"), Str("gen_ai.request.model", "gpt-4o"), Str("user.id", "ada"), .. more];
        var semconv = Span(trace, "semconv", t0, TimeSpan.FromSeconds(3), null, Chat(Dbl("gen_ai.response.time_to_first_chunk", 0.42)));
        var langfuse = Span(trace, "langfuse", t0.AddSeconds(1), TimeSpan.FromSeconds(2), null,
            Chat(Str("langfuse.observation.completion_start_time", $"\"{t0.AddSeconds(1.25):yyyy-MM-dd'T'HH:mm:ss.ffffffzzz}\"")));
        var aiSdk = Span(trace, "ai.streamText.doStream", t0.AddSeconds(2), TimeSpan.FromSeconds(2), null, Chat(Dbl("ai.response.msToFirstChunk", 180.5)));
        var none = Span(trace, "not streamed", t0.AddSeconds(3), TimeSpan.FromSeconds(1), null, Chat());
        var bad = Span(trace, "after its end", t0.AddSeconds(4), TimeSpan.FromSeconds(1), null, Chat(Dbl("gen_ai.response.time_to_first_chunk", 1.5)));
        var tool = Span(trace, "tool", t0.AddSeconds(5), TimeSpan.FromSeconds(1), null, Str("gen_ai.operation.name", "execute_tool"), Dbl("gen_ai.response.time_to_first_chunk", 0.1));

        await Deliver(Record(project, trace, "app", semconv, langfuse, aiSdk, none, bad, tool));
        await Deliver(Record(project, trace, "app", semconv, langfuse, aiSdk, none, bad, tool));

        await using (var command = Db.CreateCommand($"SELECT name, time_to_first_token_nanos FROM telemetry.spans WHERE project_id = '{project}' ORDER BY start_time"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            var stored = new List<string>();
            while (await reader.ReadAsync())
            {
                stored.Add($"{reader.GetString(0)} {(reader.IsDBNull(1) ? "null" : reader.GetInt64(1))}");
            }

            Assert.Equal(["semconv 420000000", "langfuse 250000000", "ai.streamText.doStream 180500000", "not streamed null", "after its end null", "tool 100000000"], stored);
        }

        string[] expected = [$"{LatencySketch.Bin(180_500_000)}:1", $"{LatencySketch.Bin(250_000_000)}:1", $"{LatencySketch.Bin(420_000_000)}:1"];
        await using (var command = Db.CreateCommand($"SELECT calls, time_to_first_token FROM telemetry.llm_usage_minute WHERE project_id = '{project}'"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal(5, reader.GetInt64(0));
            Assert.Equal(expected, reader.GetFieldValue<long[]>(1).Select(p => $"{LatencySketch.BinOf(p)}:{LatencySketch.CountOf(p)}"));
            Assert.False(await reader.ReadAsync());
        }

        foreach (var table in new[] { "llm_usage_hour", "llm_usage_hour_model" })
        {
            await using var command = Db.CreateCommand($"SELECT time_to_first_token FROM telemetry.{table} WHERE project_id = '{project}'");
            var sketch = (byte[])(await command.ExecuteScalarAsync())!;
            Assert.Equal(expected, sketch.Chunk(LatencySketch.EntryBytes).Select(e => System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(e))
                .Select(p => $"{LatencySketch.BinOf(p)}:{LatencySketch.CountOf(p)}"));
        }

        Assert.Equal(0, await LlmUsageFacts.MismatchesAsync(Db, project));
        Assert.Equal(0, await LlmUsageFacts.SketchMismatchesAsync(Db, project));
    }

    [Fact]
    public async Task LlmUsage_CallsWithoutTimeToFirstToken_LeaveAnEmptySketchAndDoNotEmptyAStoredOne()
    {
        var project = Guid.NewGuid();
        var trace = Id(16);
        var t0 = new DateTimeOffset(2025, 7, 3, 8, 0, 0, TimeSpan.Zero);
        var plain = Span(trace, "plain", t0, TimeSpan.FromSeconds(1), null, Str("gen_ai.operation.name", "chat"), Str("gen_ai.request.model", "m"));
        var streamed = Span(trace, "streamed", t0.AddSeconds(1), TimeSpan.FromSeconds(1), null,
            Str("gen_ai.operation.name", "chat"), Str("gen_ai.request.model", "m"), Dbl("gen_ai.response.time_to_first_chunk", 0.3));
        var plainAgain = Span(trace, "plain again", t0.AddSeconds(2), TimeSpan.FromSeconds(1), null, Str("gen_ai.operation.name", "chat"), Str("gen_ai.request.model", "m"));

        await Deliver(Record(project, trace, "app", plain));
        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.llm_usage_hour_model WHERE project_id = '{project}' AND time_to_first_token = ''::bytea"));
        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.llm_usage_minute WHERE project_id = '{project}' AND time_to_first_token = '{{}}'::bigint[]"));

        await Deliver(Record(project, trace, "app", streamed));
        await Deliver(Record(project, trace, "app", plainAgain));

        Assert.Equal(3, await Count($"SELECT calls FROM telemetry.llm_usage_hour_model WHERE project_id = '{project}'"));
        Assert.Equal(0, await LlmUsageFacts.MismatchesAsync(Db, project));
        Assert.Equal(0, await LlmUsageFacts.SketchMismatchesAsync(Db, project));
    }

    /// <summary>
    /// The standard batch with a time to first token on three chat spans in four, from a fifth to four fifths of the
    /// span's duration, each from another source in turn (semconv seconds, the AI SDK's milliseconds, Langfuse's start time).
    /// </summary>
    private static ExportTraceServiceRequest WithTimeToFirstToken(ExportTraceServiceRequest request)
    {
        var random = new Random(16);
        var index = 0;
        foreach (var span in request.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans))
        {
            if (!span.Attributes.Any(a => a.Key == "gen_ai.operation.name" && a.Value.StringValue == "chat") || index++ % 4 == 3)
            {
                continue;
            }

            var nanos = (long)((span.EndTimeUnixNano - span.StartTimeUnixNano) * (0.2 + (random.NextDouble() * 0.6)));
            span.Attributes.Add(((index - 1) % 4) switch
            {
                0 => Dbl("gen_ai.response.time_to_first_chunk", nanos / 1e9),
                1 => Dbl("ai.response.msToFirstChunk", nanos / 1e6),
                _ => Int("langfuse.observation.completion_start_time", (long)span.StartTimeUnixNano + nanos),
            });
        }

        return request;
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
