using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Export.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Export.Tests;

/// <summary>The dashboard's trace spans, span search and sessions, over spans sent through the gateway and stored by the processor.</summary>
[Collection(ExportCollection.Name)]
public sealed class SpansAndSessionsTests(ExportStack stack)
{
    private Task<Conversations> DataAsync() => stack.SharedAsync("spans and sessions", LoadAsync);

    [Fact]
    public async Task TraceSpans_ThroughTheGateway_EverySpanWithItsFieldsContentAndOtlpParts()
    {
        var data = await DataAsync();

        using var response = await stack.SendAsync(HttpMethod.Get, $"/v1/traces/{data.First}/spans?project_id={data.Tenant.Project}", data.Tenant.Session);
        var text = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var body = JsonDocument.Parse(text).RootElement;
        var spans = body.GetProperty("spans").EnumerateArray().ToList();
        Assert.Equal(2, spans.Count);
        var root = spans.Single(s => s.GetProperty("parentSpanId").ValueKind == JsonValueKind.Null);
        var llm = spans.Single(s => s.GetProperty("parentSpanId").GetString() == root.GetProperty("spanId").GetString());
        Assert.Equal(("turn 1", "s-1", "ada", "chat-api"), (root.GetProperty("name").GetString(), root.GetProperty("sessionId").GetString(), root.GetProperty("userId").GetString(), root.GetProperty("service").GetString()));
        Assert.Equal(("LLM", "openai", "gpt-4o", "gpt-4o-2024-08-06", "client"),
            (llm.GetProperty("type").GetString(), llm.GetProperty("provider").GetString(), llm.GetProperty("requestModel").GetString(),
             llm.GetProperty("responseModel").GetString(), llm.GetProperty("kind").GetString()));
        Assert.Equal((100L, 10L, 40L, 0.25m, "reported", "unset"),
            (llm.GetProperty("inputTokens").GetInt64(), llm.GetProperty("outputTokens").GetInt64(), llm.GetProperty("cacheReadTokens").GetInt64(),
             llm.GetProperty("cost").GetDecimal(), llm.GetProperty("costSource").GetString(), llm.GetProperty("status").GetString()));
        Assert.Equal(1_000_000_000L, llm.GetProperty("durationNanos").GetInt64());
        Assert.Equal(350_000_000L, llm.GetProperty("timeToFirstTokenNanos").GetInt64());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("timeToFirstTokenNanos").ValueKind);
        Assert.Equal(data.T0Nanos + 1_000_000_000L, long.Parse(llm.GetProperty("startTimeUnixNano").GetString()!, System.Globalization.CultureInfo.InvariantCulture));

        // The verbatim gen_ai.prompt / gen_ai.completion come back normalized (semconv messages), whole.
        var input = JsonDocument.Parse(llm.GetProperty("input").GetString()!).RootElement;
        Assert.Equal("user", input[0].GetProperty("role").GetString());
        Assert.Contains("capital of France", input[0].GetProperty("parts")[0].GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.Contains("Paris", llm.GetProperty("output").GetString(), StringComparison.Ordinal);
        Assert.False(llm.TryGetProperty("previewTruncated", out _));

        // The OTLP parts: attributes (the prompt among them, as sent), events, links, resource and scope.
        var attributes = llm.GetProperty("attributes").EnumerateArray().ToDictionary(a => a.GetProperty("key").GetString()!, a => a.GetProperty("value"));
        Assert.Equal("gold", attributes["customer.tier"].GetProperty("stringValue").GetString());
        Assert.Equal(Prompt, attributes["gen_ai.prompt"].GetProperty("stringValue").GetString());
        Assert.Equal("retry", llm.GetProperty("events")[0].GetProperty("name").GetString());
        Assert.Equal(1, llm.GetProperty("links").GetArrayLength());
        Assert.Equal(0, root.GetProperty("links").GetArrayLength());
        var resource = body.GetProperty("resources").GetProperty(llm.GetProperty("resourceId").GetString()!);
        Assert.Contains(resource.GetProperty("attributes").EnumerateArray(), a => a.GetProperty("key").GetString() == "deployment.environment"
                                                                                  && a.GetProperty("value").GetProperty("stringValue").GetString() == "production");
        Assert.Equal("chat-sdk", body.GetProperty("scopes").GetProperty(llm.GetProperty("scopeId").GetString()!).GetProperty("name").GetString());
    }

    [Fact]
    public async Task TraceSpans_UnknownTraceOrOtherTenantsProject_Is404_BadId_Is400()
    {
        var data = await DataAsync();
        var viewer = ExportStack.Viewer(data.Tenant);

        using var unknown = await stack.GetDirectAsync("/v1/traces/0af7651916cd43dd8448eb211c80319c/spans", viewer);
        using var otherProject = await stack.GetDirectAsync($"/v1/traces/{data.First}/spans?project_id={Guid.NewGuid()}", viewer);
        using var badId = await stack.GetDirectAsync("/v1/traces/xyz/spans", viewer);

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("trace 0af7651916cd43dd8448eb211c80319c not found", await ParameterTests.ErrorAsync(unknown), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, otherProject.StatusCode);
        Assert.Contains("not found among your organization's projects", await ParameterTests.ErrorAsync(otherProject), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, badId.StatusCode);
        Assert.Contains("traceId", await ParameterTests.ErrorAsync(badId), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SpanSearch_EachFilter_FindsExactlyItsSpans()
    {
        var data = await DataAsync();
        var window = data.Window;

        Assert.Equal(data.LlmNewestFirst, await SpanNamesAsync(data, $"{window}&type=llm"));
        Assert.Equal(["chat bananas"], await SpanNamesAsync(data, $"{window}&q=BANANAS"));
        Assert.Equal(["chat france"], await SpanNamesAsync(data, $"{window}&attr.customer.tier=gold"));
        Assert.Empty(await SpanNamesAsync(data, $"{window}&attr.customer.tier=silver"));
        Assert.Equal(["chat staging", "turn 3"], await SpanNamesAsync(data, $"{window}&resource.deployment.environment=staging"));
        Assert.Equal(["chat bananas"], await SpanNamesAsync(data, $"{window}&status=error"));
        Assert.Equal(["turn 4", "turn 3", "turn 2", "turn 1"], await SpanNamesAsync(data, $"{window}&min_duration_ms=2500"));
        Assert.Equal(["chat staging", "chat bananas", "chat france"], await SpanNamesAsync(data, $"{window}&max_duration_ms=1000&model=gpt-4o-2024-08-06"));
        Assert.Equal(["turn 2", "turn 1"], await SpanNamesAsync(data, $"{window}&session_id=s-1"));
        Assert.Equal(["chat france", "turn 1"], await SpanNamesAsync(data, $"trace_id={data.First}"));
        Assert.Equal(["chat bananas"], await SpanNamesAsync(data, $"{window}&provider=openai&user_id=grace&service=chat-api"));
    }

    [Fact]
    public async Task SpanSearch_TimeToFirstToken_WhereTheSpanCarriesIt_ElseNull()
    {
        var data = await DataAsync();

        var (spans, _) = await SpansAsync(ExportStack.Viewer(data.Tenant), $"trace_id={data.First}");

        Assert.Equal(
            [("chat france", (long?)350_000_000), ("turn 1", null)],
            spans.Select(s => (s.GetProperty("name").GetString()!, s.GetProperty("timeToFirstTokenNanos").ValueKind == JsonValueKind.Null ? null : (long?)s.GetProperty("timeToFirstTokenNanos").GetInt64()))
                .OrderBy(s => s.Item1, StringComparer.Ordinal));
    }

    [Fact]
    public async Task SpanSearch_Q_FindsTheStartAndTheEndOfALongText_NotItsMiddle()
    {
        // q searches each text whole up to 1,024 characters, else its first and last 512 (migration 0012).
        var tenant = await stack.NewTenantAsync();
        var start = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds() * 1_000_000;
        var filler = string.Concat(Enumerable.Repeat("lorem ipsum dolor sit amet ", 60));
        var content = $"opening-kiwi {filler} middle-kiwi {filler} closing-kiwi";
        var trace = NewId(16);
        var span = NewSpan(trace, "chat long", start, 1_000_000_000, null, Span.Types.SpanKind.Client,
            [Str("gen_ai.operation.name", "chat"), Str("gen_ai.provider.name", "openai"), Str("gen_ai.request.model", "gpt-4o"),
             Str("gen_ai.input.messages", "[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"" + content + "\"}]}]"),
             Str("gen_ai.output.messages", "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"answer-kiwi\"}]}]")]);
        await stack.IngestAsync(tenant.ApiKey, new ExportTraceServiceRequest { ResourceSpans = { Resources("chat-api", "production", span) } });
        await stack.WaitForSpansAsync(tenant.Project, 1);
        var window = $"from={Rfc(start - 60_000_000_000)}&to={Rfc(start + 60_000_000_000)}";

        async Task<List<string>> Found(string q)
            => [.. (await SpansAsync(ExportStack.Viewer(tenant), $"{window}&q={q}")).Spans.Select(s => s.GetProperty("name").GetString()!)];

        Assert.True(content.Length > 3000);
        Assert.Equal(["chat long"], await Found("OPENING-kiwi"));
        Assert.Equal(["chat long"], await Found("closing-kiwi"));
        Assert.Equal(["chat long"], await Found("answer-kiwi"));
        Assert.Empty(await Found("middle-kiwi"));
    }

    [Fact]
    public async Task SpanSearch_PreviewsTheContent_AndPagesWithASignedCursor()
    {
        var data = await DataAsync();
        var viewer = ExportStack.Viewer(data.Tenant);

        var (first, cursor) = await SpansAsync(viewer, $"{data.Window}&q=bananas");
        var preview = first.Single();
        Assert.True(preview.GetProperty("previewTruncated").GetBoolean());
        Assert.Equal(1000, preview.GetProperty("output").GetString()!.Length);
        Assert.Null(cursor);

        var names = new List<string>();
        string? next = null;
        var pages = 0;
        do
        {
            var (page, more) = await SpansAsync(viewer, $"{data.Window}&type=LLM&limit=2" + (next is null ? "" : "&cursor=" + next));
            names.AddRange(page.Select(s => s.GetProperty("name").GetString()!));
            next = more;
            pages++;
        }
        while (next is not null);

        Assert.Equal(2, pages);
        Assert.Equal(data.LlmNewestFirst, names);

        var (_, cursorOfPage1) = await SpansAsync(viewer, $"{data.Window}&type=LLM&limit=2");
        using var otherQuery = await stack.GetDirectAsync($"{SpansApi.ListPath}?{data.Window}&type=TOOL&limit=2&cursor={cursorOfPage1}", viewer);
        Assert.Equal(HttpStatusCode.BadRequest, otherQuery.StatusCode);
        Assert.Contains("cursor belongs to another query", await ParameterTests.ErrorAsync(otherQuery), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("type=LLM", "from")]
    [InlineData("from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&type=bogus", "type")]
    [InlineData("from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&min_duration_ms=-1", "min_duration_ms")]
    [InlineData("from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&max_duration_ms=soon", "max_duration_ms")]
    [InlineData("from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&min_duration_ms=5&max_duration_ms=1", "min_duration_ms")]
    [InlineData("from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&status=broken", "status")]
    [InlineData("from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&attr.=x", "attr.")]
    [InlineData("from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&resource.service.name=", "resource.service.name")]
    [InlineData("trace_id=12", "trace_id")]
    [InlineData("from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&cursor=abc", "cursor")]
    [InlineData("from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&limit=0", "limit")]
    public async Task SpanSearch_BadParameter_Is400NamingIt(string query, string parameter)
    {
        var data = await DataAsync();

        using var response = await stack.GetDirectAsync($"{SpansApi.ListPath}?{query}", ExportStack.Viewer(data.Tenant));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(parameter, await ParameterTests.ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sessions_NewestActivityFirst_WithTheirTotals_FilteredAndPaged()
    {
        var data = await DataAsync();
        var viewer = ExportStack.Viewer(data.Tenant);

        var (all, more) = await SessionsAsync(viewer, "");
        Assert.Null(more);
        Assert.Equal(["s-2", "s-1"], all.Select(s => s.GetProperty("sessionId").GetString()));
        var s1 = all[1];
        Assert.Equal((data.Tenant.Project, 2L, 150L, 15L, 0.35m, true),
            (s1.GetProperty("projectId").GetGuid(), s1.GetProperty("traceCount").GetInt64(), s1.GetProperty("inputTokens").GetInt64(),
             s1.GetProperty("outputTokens").GetInt64(), s1.GetProperty("cost").GetDecimal(), s1.GetProperty("hasError").GetBoolean()));
        Assert.Equal(["ada", "grace"], s1.GetProperty("users").EnumerateArray().Select(u => u.GetString()));
        Assert.Equal(data.T0Nanos.ToString(System.Globalization.CultureInfo.InvariantCulture), s1.GetProperty("firstTimeUnixNano").GetString());
        Assert.Equal((data.T0Nanos + (600L + 3) * 1_000_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture), s1.GetProperty("lastTimeUnixNano").GetString());
        Assert.False(all[0].GetProperty("hasError").GetBoolean());

        Assert.Equal(["s-1"], (await SessionsAsync(viewer, "user_id=grace")).Sessions.Select(s => s.GetProperty("sessionId").GetString()));
        // A user's sessions come from their traces (ada has a trace in each), newest first, paged and bounded in time like the rest.
        Assert.Equal(["s-2", "s-1"], (await SessionsAsync(viewer, "user_id=ada")).Sessions.Select(s => s.GetProperty("sessionId").GetString()));
        var (adaPage1, adaCursor) = await SessionsAsync(viewer, "user_id=ada&limit=1");
        Assert.NotNull(adaCursor);
        var (adaPage2, adaEnd) = await SessionsAsync(viewer, "user_id=ada&limit=1&cursor=" + adaCursor);
        Assert.Null(adaEnd);
        Assert.Equal(["s-2", "s-1"], adaPage1.Concat(adaPage2).Select(s => s.GetProperty("sessionId").GetString()));
        Assert.Equal(["s-1"], (await SessionsAsync(viewer, $"user_id=ada&to={Rfc(data.T0Nanos + 900_000_000_000)}")).Sessions.Select(s => s.GetProperty("sessionId").GetString()));
        Assert.Empty((await SessionsAsync(viewer, "user_id=nobody")).Sessions);
        Assert.Equal(["s-1"], (await SessionsAsync(viewer, $"to={Rfc(data.T0Nanos + 900_000_000_000)}")).Sessions.Select(s => s.GetProperty("sessionId").GetString()));

        var (page1, cursor) = await SessionsAsync(viewer, "limit=1");
        Assert.NotNull(cursor);
        var (page2, end) = await SessionsAsync(viewer, "limit=1&cursor=" + cursor);
        Assert.Null(end);
        Assert.Equal(["s-2", "s-1"], page1.Concat(page2).Select(s => s.GetProperty("sessionId").GetString()));

        using var badTime = await stack.GetDirectAsync($"{SessionsApi.ListPath}?from=yesterday", viewer);
        Assert.Equal(HttpStatusCode.BadRequest, badTime.StatusCode);
        Assert.Contains("from", await ParameterTests.ErrorAsync(badTime), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Session_ItsTracesInTimeOrder_WithTheConversationTurnOfEach()
    {
        var data = await DataAsync();

        using var response = await stack.SendAsync(HttpMethod.Get, $"/v1/sessions/s-1?project_id={data.Tenant.Project}", data.Tenant.Session);
        var text = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var body = JsonDocument.Parse(text).RootElement;
        Assert.Equal(("s-1", 2L), (body.GetProperty("session").GetProperty("sessionId").GetString(), body.GetProperty("session").GetProperty("traceCount").GetInt64()));
        var traces = body.GetProperty("traces").EnumerateArray().ToList();
        Assert.Equal([data.First, data.Second], traces.Select(t => t.GetProperty("traceId").GetString()));
        Assert.Equal(("turn 1", "ok", 100L, 0.25m, "ada"),
            (traces[0].GetProperty("name").GetString(), traces[0].GetProperty("status").GetString(), traces[0].GetProperty("inputTokens").GetInt64(),
             traces[0].GetProperty("cost").GetDecimal(), traces[0].GetProperty("userId").GetString()));
        Assert.Contains("capital of France", traces[0].GetProperty("input").GetString(), StringComparison.Ordinal);
        Assert.Contains("Paris", traces[0].GetProperty("output").GetString(), StringComparison.Ordinal);
        Assert.Equal("error", traces[1].GetProperty("status").GetString());
        Assert.Contains("bananas", traces[1].GetProperty("input").GetString(), StringComparison.Ordinal);

        using var unknown = await stack.GetDirectAsync("/v1/sessions/no-such-session", ExportStack.Viewer(data.Tenant));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("session 'no-such-session' not found", await ParameterTests.ErrorAsync(unknown), StringComparison.Ordinal);
        var stranger = ExportStack.Viewer((await DataAsync()).Tenant with { Project = Guid.NewGuid() });
        using var otherTenant = await stack.GetDirectAsync("/v1/sessions/s-1", stranger);
        Assert.Equal(HttpStatusCode.NotFound, otherTenant.StatusCode);
    }

    [Fact]
    public async Task TraceList_SessionUserAndResourceFilters()
    {
        var data = await DataAsync();
        var viewer = ExportStack.Viewer(data.Tenant);

        Assert.Equal([data.Second, data.First], (await TraceViewTests.ListAsync(stack, viewer, "session_id=s-1")).Traces.Select(t => t.TraceId));
        Assert.Equal([data.Third, data.First], (await TraceViewTests.ListAsync(stack, viewer, "user_id=ada")).Traces.Select(t => t.TraceId));
        Assert.Equal([data.Third], (await TraceViewTests.ListAsync(stack, viewer, "resource.deployment.environment=staging")).Traces.Select(t => t.TraceId));
        Assert.Equal([data.Fourth, data.Second, data.First], (await TraceViewTests.ListAsync(stack, viewer, "resource.service.name=chat-api")).Traces.Select(t => t.TraceId));

        using var bad = await stack.GetDirectAsync($"{ExportApi.TracesPath}?resource.=x", viewer);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("resource.", await ParameterTests.ErrorAsync(bad), StringComparison.Ordinal);
    }

    private const string Prompt = """[{"role":"user","content":"What is the capital of France?"}]""";

    private async Task<List<string>> SpanNamesAsync(Conversations data, string query)
        => [.. (await SpansAsync(ExportStack.Viewer(data.Tenant), query + "&limit=100")).Spans.Select(s => s.GetProperty("name").GetString()!)];

    private async Task<(List<JsonElement> Spans, string? Next)> SpansAsync(CallerIdentity caller, string query)
    {
        using var response = await stack.GetDirectAsync($"{SpansApi.ListPath}?{query}", caller);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{query}: {(int)response.StatusCode} {text}");
        return ([.. JsonDocument.Parse(text).RootElement.GetProperty("spans").EnumerateArray()], response.Headers.TryGetValues(ExportApi.NextCursorHeader, out var v) ? v.Single() : null);
    }

    private async Task<(List<JsonElement> Sessions, string? Next)> SessionsAsync(CallerIdentity caller, string query)
    {
        using var response = await stack.GetDirectAsync($"{SessionsApi.ListPath}?{query}", caller);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{query}: {(int)response.StatusCode} {text}");
        return ([.. JsonDocument.Parse(text).RootElement.GetProperty("sessions").EnumerateArray()], response.Headers.TryGetValues(ExportApi.NextCursorHeader, out var v) ? v.Single() : null);
    }

    private static string Rfc(long unixNanos) => Uri.EscapeDataString(DateTimeOffset.FromUnixTimeMilliseconds(unixNanos / 1_000_000).ToString("O"));

    /// <summary>
    /// Four traces a minute to ten apart, an hour ago: s-1 holds turn 1 (ada; a France question with a verbatim prompt) and
    /// turn 2 (grace; a failed LLM call about bananas with a long answer), s-2 holds turn 3 (ada, staging), turn 4 has no session.
    /// </summary>
    private async Task<Conversations> LoadAsync()
    {
        var tenant = await stack.NewTenantAsync();
        var t0 = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds() * 1_000_000;
        var (first, second, third, fourth) = (NewId(16), NewId(16), NewId(16), NewId(16));

        Span Root(ByteString trace, string name, long start, params KeyValue[] attributes)
            => NewSpan(trace, name, start, 3_000_000_000, null, Span.Types.SpanKind.Server, attributes);
        Span Llm(ByteString trace, string name, Span parent, long input, long output, double cost, params KeyValue[] attributes)
            => NewSpan(trace, name, parent.StartTimeUnixNano + 1_000_000_000, 1_000_000_000, parent.SpanId, Span.Types.SpanKind.Client,
                [Str("gen_ai.operation.name", "chat"), Str("gen_ai.provider.name", "openai"), Str("gen_ai.request.model", "gpt-4o"),
                 Str("gen_ai.response.model", "gpt-4o-2024-08-06"), Int("gen_ai.usage.input_tokens", input), Int("gen_ai.usage.output_tokens", output),
                 Dbl("gen_ai.usage.cost", cost), .. attributes]);

        var turn1 = Root(first, "turn 1", t0, Str("session.id", "s-1"), Str("user.id", "ada"));
        var france = Llm(first, "chat france", turn1, 100, 10, 0.25, Str("customer.tier", "gold"), Int("gen_ai.usage.cache_read_input_tokens", 40),
            Dbl("gen_ai.response.time_to_first_chunk", 0.35),
            Str("gen_ai.prompt", Prompt), Str("gen_ai.completion", """[{"role":"assistant","content":"Paris is the capital."}]"""));
        france.Events.Add(new Span.Types.Event { Name = "retry", TimeUnixNano = france.StartTimeUnixNano + 5 });
        france.Links.Add(new Span.Types.Link { TraceId = second, SpanId = NewId(8) });
        var turn2 = Root(second, "turn 2", t0 + 600_000_000_000, Str("session.id", "s-1"), Str("user.id", "grace"));
        var bananas = Llm(second, "chat bananas", turn2, 50, 5, 0.1, Str("user.id", "grace"),
            Str("gen_ai.input.messages", """[{"role":"user","parts":[{"type":"text","content":"Tell me about bananas"}]}]"""),
            Str("gen_ai.output.messages", "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"" + new string('b', 3000) + "\"}]}]"));
        bananas.Status = new Status { Code = Status.Types.StatusCode.Error, Message = "rate limited" };
        var turn3 = Root(third, "turn 3", t0 + 1_200_000_000_000, Str("session.id", "s-2"), Str("user.id", "ada"));
        var staging = Llm(third, "chat staging", turn3, 1, 1, 0.001);
        var turn4 = Root(fourth, "turn 4", t0 + 1_300_000_000_000);

        var request = new ExportTraceServiceRequest
        {
            ResourceSpans =
            {
                Resources("chat-api", "production", turn1, france, turn2, bananas, turn4),
                Resources("worker", "staging", turn3, staging),
            },
        };
        await stack.IngestAsync(tenant.ApiKey, request);
        await stack.WaitForSpansAsync(tenant.Project, 7);
        return new Conversations(tenant, t0, Hex(first), Hex(second), Hex(third), Hex(fourth));
    }

    private static ResourceSpans Resources(string service, string environment, params Span[] spans) => new()
    {
        Resource = new Resource { Attributes = { Str("service.name", service), Str("deployment.environment", environment) } },
        ScopeSpans = { new ScopeSpans { Scope = new InstrumentationScope { Name = "chat-sdk", Version = "1.0" }, Spans = { spans } } },
    };

    private static Span NewSpan(ByteString trace, string name, long start, long duration, ByteString? parent, Span.Types.SpanKind kind, IEnumerable<KeyValue> attributes)
    {
        var span = new Span
        {
            TraceId = trace,
            SpanId = NewId(8),
            Name = name,
            Kind = kind,
            StartTimeUnixNano = (ulong)start,
            EndTimeUnixNano = (ulong)(start + duration),
            Attributes = { attributes },
        };
        if (parent is not null)
        {
            span.ParentSpanId = parent;
        }

        return span;
    }

    private static Span NewSpan(ByteString trace, string name, ulong start, long duration, ByteString? parent, Span.Types.SpanKind kind, IEnumerable<KeyValue> attributes)
        => NewSpan(trace, name, (long)start, duration, parent, kind, attributes);

    private static ByteString NewId(int bytes) => ByteString.CopyFrom(System.Security.Cryptography.RandomNumberGenerator.GetBytes(bytes));

    private static string Hex(ByteString id) => Convert.ToHexStringLower(id.Span);

    private static KeyValue Str(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    private static KeyValue Int(string key, long value) => new() { Key = key, Value = new AnyValue { IntValue = value } };

    private static KeyValue Dbl(string key, double value) => new() { Key = key, Value = new AnyValue { DoubleValue = value } };

    private sealed record Conversations(Tenant Tenant, long T0Nanos, string First, string Second, string Third, string Fourth)
    {
        /// <summary>A window around all four traces.</summary>
        public string Window => $"from={Rfc(T0Nanos - 60_000_000_000)}&to={Rfc(T0Nanos + 3_600_000_000_000)}";

        public List<string> LlmNewestFirst => ["chat staging", "chat bananas", "chat france"];
    }
}
