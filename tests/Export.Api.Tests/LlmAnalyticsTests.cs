using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Export.Analytics;
using Trulayer.Otlp.Analytics;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Export.Tests;

/// <summary>GET /v1/analytics/llm over spans sent through the gateway and stored by the real processor.</summary>
[Collection(ExportCollection.Name)]
public sealed class LlmAnalyticsTests(ExportStack stack)
{
    private static readonly (string Provider, string Model)[] Models = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-3-5-sonnet")];

    [Theory]
    [InlineData("to=2026-04-21T00:00:00Z", "from is missing")]
    [InlineData("from=2026-04-20T00:00:00Z", "to is missing")]
    [InlineData("from=yesterday&to=2026-04-21T00:00:00Z", "from 'yesterday' is not an RFC 3339 time")]
    [InlineData("from=2026-04-21T00:00:00Z&to=2026-04-20T00:00:00Z", "to (2026-04-20T00:00:00Z) is before from")]
    [InlineData("from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z&interval=2h", "interval '2h' is not one of 1m, 5m, 15m, 1h, 6h, 1d")]
    [InlineData("from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z&interval=3600", "interval '3600' is not one of")]
    [InlineData("from=2025-04-20T00:00:00Z&to=2026-04-21T00:00:00Z&interval=1m", "interval 1m gives 527,040 buckets between from and to, over the maximum of 10,000")]
    [InlineData("from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z&group_by=day", "group_by 'day' is not one of model, provider, service, project, type, user")]
    [InlineData("from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z&group_by=Model", "group_by 'Model' is not one of")]
    [InlineData("from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z&project_id=42", "project_id '42' is not a project id")]
    public async Task Analytics_BadParameter_Is400NamingIt(string query, string message)
    {
        var caller = new CallerIdentity(CallerKind.Session, Guid.NewGuid(), [Guid.NewGuid()], Roles.Viewer, "user_analytics");

        using var response = await stack.GetDirectAsync($"{LlmAnalyticsApi.Path}?{query}", caller);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, await ParameterTests.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Analytics_LongFilter_Is400NamingIt()
    {
        var caller = new CallerIdentity(CallerKind.Session, Guid.NewGuid(), [Guid.NewGuid()], Roles.Viewer, "user_analytics");

        using var response = await stack.GetDirectAsync($"{LlmAnalyticsApi.Path}?from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z&user_id={new string('u', 300)}", caller);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("user_id 'uuu", await ParameterTests.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Analytics_SentTwiceThroughTheGateway_TotalsEqualTheStoredModelCallsAndOtherTenantsSeeNone()
    {
        var data = await UsageAsync();
        var other = await stack.NewTenantAsync();

        using var response = await stack.SendAsync(HttpMethod.Get, $"{LlmAnalyticsApi.Path}?{data.Window}&group_by=model", data.Tenant.Session);
        var body = await JsonAsync(response);
        using var foreign = await stack.SendAsync(HttpMethod.Get, $"{LlmAnalyticsApi.Path}?{data.Window}&project_id={data.Tenant.Project}", other.Session);
        using var own = await stack.SendAsync(HttpMethod.Get, $"{LlmAnalyticsApi.Path}?{data.Window}", other.Session);

        var expected = await StoredAsync(data.Tenant.Project, "");
        var totals = body.GetProperty("totals");
        Assert.Equal(expected, Sums(totals));
        Assert.Equal(data.Calls, totals.GetProperty("calls").GetInt64());
        Assert.Equal("model", body.GetProperty("groupBy").GetString());
        foreach (var (_, model) in Models)
        {
            var buckets = body.GetProperty("buckets").EnumerateArray().Where(b => b.GetProperty("group").GetString() == model).ToList();
            Assert.Equal(await StoredAsync(data.Tenant.Project, model), Sum(buckets.Select(Sums)));
        }

        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        Assert.Equal(0, (await JsonAsync(own)).GetProperty("totals").GetProperty("calls").GetInt64());
    }

    [Fact]
    public async Task Analytics_Percentiles_WithinTheSketchErrorOfTheExactValues()
    {
        var data = await UsageAsync();
        var caller = ExportStack.Viewer(data.Tenant);

        using var response = await stack.GetDirectAsync($"{LlmAnalyticsApi.Path}?{data.Window}&interval=1d", caller);
        var totals = (await JsonAsync(response)).GetProperty("totals");

        var sorted = data.DurationsNanos.Order().ToArray();
        foreach (var (q, field) in new[] { (0.5, "latencyP50Nanos"), (0.95, "latencyP95Nanos"), (0.99, "latencyP99Nanos") })
        {
            var exact = (double)sorted[(int)Math.Floor(q * (sorted.Length - 1))];
            var estimate = totals.GetProperty(field).GetInt64();
            Assert.InRange(Math.Abs(estimate - exact) / exact, 0, LatencySketch.RelativeError + 1e-9);
        }
    }

    [Fact]
    public async Task Analytics_TimeToFirstTokenPercentiles_WithinTheSketchErrorOfTheExactValues_NullWhereNoCallCarriedOne()
    {
        var data = await UsageAsync();
        var caller = ExportStack.Viewer(data.Tenant);

        using var response = await stack.GetDirectAsync($"{LlmAnalyticsApi.Path}?{data.Window}&interval=1d&group_by=model", caller);
        var body = await JsonAsync(response);

        var fields = new[] { (0.5, "ttftP50Nanos"), (0.95, "ttftP95Nanos"), (0.99, "ttftP99Nanos") };
        void AssertWithinError(JsonElement point, IEnumerable<SentCall> calls)
        {
            var sorted = calls.Where(c => c.TtftNanos is not null).Select(c => c.TtftNanos!.Value).Order().ToArray();
            Assert.True(sorted.Length > 20, $"{sorted.Length} calls with a time to first token");
            foreach (var (q, field) in fields)
            {
                var exact = (double)sorted[(int)Math.Floor(q * (sorted.Length - 1))];
                var estimate = point.GetProperty(field).GetInt64();
                Assert.InRange(Math.Abs(estimate - exact) / exact, 0, LatencySketch.RelativeError + 1e-9);
            }
        }

        AssertWithinError(body.GetProperty("totals"), data.Spans);
        var buckets = body.GetProperty("buckets").EnumerateArray().ToDictionary(b => b.GetProperty("group").GetString()!);
        AssertWithinError(buckets["gpt-4o"], data.Spans.Where(s => s.Model == "gpt-4o"));
        AssertWithinError(buckets["claude-3-5-sonnet"], data.Spans.Where(s => s.Model == "claude-3-5-sonnet"));
        Assert.True(buckets["gpt-4o-mini"].GetProperty("calls").GetInt64() > 0);
        Assert.All(fields, f => Assert.Equal(JsonValueKind.Null, buckets["gpt-4o-mini"].GetProperty(f.Item2).ValueKind));
        Assert.NotEqual(JsonValueKind.Null, buckets["gpt-4o-mini"].GetProperty("latencyP50Nanos").ValueKind);
    }

    [Fact]
    public async Task Analytics_HourlyAndPerMinuteRollupsAndEveryGrouping_GiveTheSameTotals()
    {
        var data = await UsageAsync();
        var caller = ExportStack.Viewer(data.Tenant);
        var expected = await StoredAsync(data.Tenant.Project, "");

        var percentiles = new HashSet<string>();
        foreach (var query in new[] { "interval=1h", "interval=1m", "interval=15m&group_by=user", "interval=1h&group_by=provider", "interval=6h&group_by=type",
                     "interval=5m&group_by=service", "interval=1h&group_by=service", "interval=1d&group_by=project", "" })
        {
            using var response = await stack.GetDirectAsync($"{LlmAnalyticsApi.Path}?{data.Window}&{query}", caller);
            var body = await JsonAsync(response);
            Assert.Equal(expected, Sums(body.GetProperty("totals")));
            // Sketches merge exactly: every rollup and grouping gives the window the same percentiles.
            percentiles.Add(string.Join(",", new[] { "latencyP50Nanos", "latencyP99Nanos", "ttftP50Nanos", "ttftP95Nanos", "ttftP99Nanos" }
                .Select(f => body.GetProperty("totals").GetProperty(f).GetInt64())));
            Assert.Equal(expected, Sum(body.GetProperty("buckets").EnumerateArray().Select(Sums)));
        }

        Assert.Single(percentiles);
        using var oneUser = await stack.GetDirectAsync($"{LlmAnalyticsApi.Path}?{data.Window}&interval=1h&user_id=user-1&model=gpt-4o", caller);
        var filtered = (await JsonAsync(oneUser)).GetProperty("totals");
        Assert.Equal(data.Spans.Count(s => s.User == "user-1" && s.Model == "gpt-4o"), filtered.GetProperty("calls").GetInt64());
    }

    [Fact]
    public async Task Analytics_WithoutInterval_ChoosesOneFromTheWindowAndWidensItToWholeBuckets()
    {
        var data = await UsageAsync();

        using var response = await stack.GetDirectAsync($"{LlmAnalyticsApi.Path}?from=2026-04-20T10:17:00Z&to=2026-04-21T10:17:00Z", ExportStack.Viewer(data.Tenant));
        var body = await JsonAsync(response);

        Assert.Equal("5m", body.GetProperty("interval").GetString());
        Assert.Equal("2026-04-20T10:15:00.000000000Z", body.GetProperty("from").GetString());
        Assert.Equal("2026-04-21T10:20:00.000000000Z", body.GetProperty("to").GetString());
        Assert.Equal(0, body.GetProperty("buckets").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("totals").GetProperty("latencyP50Nanos").ValueKind);
        Assert.Equal(JsonValueKind.Null, body.GetProperty("totals").GetProperty("ttftP50Nanos").ValueKind);
    }

    private sealed record SentCall(string Model, string User, long DurationNanos, long? TtftNanos);

    private sealed record Usage(Tenant Tenant, string Window, long Calls, List<SentCall> Spans)
    {
        public IEnumerable<long> DurationsNanos => Spans.Select(s => s.DurationNanos);
    }

    /// <summary>
    /// A tenant whose project holds 600 model calls (chat and embeddings, 3 models of 2 providers, 5 users,
    /// every 25th failing, durations from 20 ms to 60 s, a time to first token on the chat calls of gpt-4o and claude) and 200 agent spans over them, in one hour two hours
    /// ago; each request sent twice, which the processor stores (and counts) once. Loaded once for the class.
    /// </summary>
    private Task<Usage> UsageAsync() => stack.SharedAsync("llm-analytics", async () =>
    {
        var tenant = await stack.NewTenantAsync();
        var random = new Random(16);
        var hour = DateTimeOffset.UtcNow.AddHours(-2);
        hour = hour.AddTicks(-(hour.Ticks % TimeSpan.TicksPerHour));
        var calls = new List<SentCall>();
        var requests = new List<ExportTraceServiceRequest>();
        for (var r = 0; r < 4; r++)
        {
            var spans = new List<Span>();
            for (var t = 0; t < 50; t++)
            {
                var traceId = Bytes(random, 16);
                var start = hour.AddSeconds(random.Next(3000));
                var root = NewSpan(random, traceId, null, "invoke_agent", start, 70_000_000_000, Str("gen_ai.operation.name", "invoke_agent"), Int("gen_ai.usage.input_tokens", 5000));
                spans.Add(root);
                for (var c = 0; c < 3; c++)
                {
                    var (provider, model) = Models[random.Next(Models.Length)];
                    var user = "user-" + random.Next(5).ToString(CultureInfo.InvariantCulture);
                    var duration = (long)(Math.Exp(random.NextDouble() * Math.Log(3000)) * 20_000_000);
                    var embedding = c == 0 && model != "claude-3-5-sonnet";
                    var call = NewSpan(random, traceId, root.SpanId, "call", start.AddSeconds(c + 1), duration,
                        Str("gen_ai.operation.name", embedding ? "embeddings" : "chat"), Str("gen_ai.provider.name", provider), Str("gen_ai.request.model", model),
                        Str("user.id", user), Int("gen_ai.usage.input_tokens", random.Next(10, 5000)), Int("gen_ai.usage.output_tokens", random.Next(0, 900)),
                        Int("gen_ai.usage.cache_read.input_tokens", random.Next(0, 5)), Dbl("gen_ai.usage.cost", random.Next(1, 100_000) / 1e6));
                    // Streamed chat calls of every model but gpt-4o-mini carry a time to first token, from three sources in turn.
                    long? ttft = null;
                    if (!embedding && model != "gpt-4o-mini")
                    {
                        ttft = (long)(duration * (0.05 + (random.NextDouble() * 0.9)) / 1000) * 1000;
                        call.Attributes.Add((calls.Count % 3) switch
                        {
                            0 => Dbl("gen_ai.response.time_to_first_chunk", ttft.Value / 1e9),
                            1 => Dbl("ai.response.msToFirstChunk", ttft.Value / 1e6),
                            _ => Str("langfuse.observation.completion_start_time",
                                $"\"{start.AddSeconds(c + 1).AddTicks(ttft.Value / 100):yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'}\""),
                        });
                    }

                    if (calls.Count % 25 == 0)
                    {
                        call.Status = new Status { Code = Status.Types.StatusCode.Error, Message = "429" };
                    }

                    spans.Add(call);
                    calls.Add(new SentCall(model, user, duration, ttft));
                }
            }

            requests.Add(new ExportTraceServiceRequest
            {
                ResourceSpans =
                {
                    new ResourceSpans
                    {
                        Resource = new Resource { Attributes = { Str("service.name", r % 2 == 0 ? "chat-api" : "batch-worker") } },
                        ScopeSpans = { new ScopeSpans { Scope = new InstrumentationScope { Name = "analytics-test" }, Spans = { spans } } },
                    },
                },
            });
        }

        foreach (var request in requests.Concat(requests))
        {
            await stack.IngestAsync(tenant.ApiKey, request);
        }

        await stack.WaitForSpansAsync(tenant.Project, 800);
        // The duplicates were sent after the originals; wait until the processor has gone past them too.
        await WaitForAsync(async () => (await StoredCallsInRollupAsync(tenant.Project)) == calls.Count);
        var window = $"from={Uri.EscapeDataString(hour.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture))}" +
                     $"&to={Uri.EscapeDataString(hour.AddHours(1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture))}";
        return new Usage(tenant, window, calls.Count, calls);
    });

    private async Task<long> StoredCallsInRollupAsync(Guid project)
    {
        await using var command = stack.Database.CreateCommand("SELECT coalesce(sum(calls), 0)::bigint FROM telemetry.llm_usage_minute WHERE project_id = $1");
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = project });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The same sums over the stored spans themselves: model calls only, of one model or all ('').</summary>
    private async Task<long[]> StoredAsync(Guid project, string model)
    {
        await using var command = stack.Database.CreateCommand("""
            SELECT count(*), count(*) FILTER (WHERE status_code = 2), coalesce(sum(input_tokens), 0)::bigint, coalesce(sum(output_tokens), 0)::bigint,
                   coalesce(sum(cache_read_tokens), 0)::bigint, coalesce(sum(cost_micros), 0)::bigint
            FROM telemetry.spans WHERE project_id = $1 AND span_type IN ('LLM', 'EMBEDDING') AND ($2 = '' OR coalesce(response_model, request_model) = $2)
            """);
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = project });
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = model });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return [.. Enumerable.Range(0, 6).Select(reader.GetInt64)];
    }

    private static long[] Sums(JsonElement point) =>
    [
        point.GetProperty("calls").GetInt64(), point.GetProperty("errors").GetInt64(), point.GetProperty("inputTokens").GetInt64(),
        point.GetProperty("outputTokens").GetInt64(), point.GetProperty("cacheReadTokens").GetInt64(), (long)(point.GetProperty("cost").GetDecimal() * 1_000_000m),
    ];

    private static long[] Sum(IEnumerable<long[]> rows) => rows.Aggregate(new long[6], (total, row) => [.. total.Zip(row, (a, b) => a + b)]);

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the processor did not store every call in time");
            await Task.Delay(100);
        }
    }

    private static Span NewSpan(Random random, ByteString traceId, ByteString? parent, string name, DateTimeOffset start, long durationNanos, params KeyValue[] attributes)
    {
        var startNanos = (ulong)start.ToUnixTimeMilliseconds() * 1_000_000;
        return new Span
        {
            TraceId = traceId,
            SpanId = Bytes(random, 8),
            ParentSpanId = parent ?? ByteString.Empty,
            Name = name,
            StartTimeUnixNano = startNanos,
            EndTimeUnixNano = startNanos + (ulong)durationNanos,
            Attributes = { attributes },
        };
    }

    private static ByteString Bytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        bytes[0] |= 1;
        return ByteString.CopyFrom(bytes);
    }

    private static KeyValue Str(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    private static KeyValue Int(string key, long value) => new() { Key = key, Value = new AnyValue { IntValue = value } };

    private static KeyValue Dbl(string key, double value) => new() { Key = key, Value = new AnyValue { DoubleValue = value } };
}
