using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Pipeline;
using Trulayer.Processor.DeadLetters;
using Trulayer.Processor.Pipeline;
using Trulayer.Processor.Pricing;
using Trulayer.ServiceDefaults.Identity;
using static Trulayer.Processor.Tests.TestSpans;

namespace Trulayer.Processor.Tests;

/// <summary>
/// The processor's HTTP routes on a running processor (its own database and topics): dead letters made by a
/// real database refusal, listed, replayed once the cause is gone and stored exactly once; model price
/// overrides changing the cost of spans stored afterwards. Callers are signed identity assertions, as the gateway makes them.
/// </summary>
public sealed class ProcessorApiTests(ProcessorFixture fixture) : IClassFixture<ProcessorFixture>
{
    private NpgsqlDataSource Db => fixture.Database.DataSource;

    [Fact]
    public async Task DeadLetter_RefusedByTheDatabase_ListedReplayedAfterTheFixStoredOnce()
    {
        var (organization, project) = (Guid.NewGuid(), Guid.NewGuid());
        var run = Guid.NewGuid().ToString("N")[..12];
        var constraint = $"test_refuse_{run}";
        await Execute($"ALTER TABLE telemetry.spans ADD CONSTRAINT {constraint} CHECK (name <> 'refused-{run}')");
        var trace = Id(16);
        var now = DateTimeOffset.UtcNow;
        var refused = Record(project, organization, trace, Span(trace, $"refused-{run}", now, TimeSpan.FromSeconds(1)), Span(trace, "sibling", now, TimeSpan.FromSeconds(1)));
        var goodTrace = Id(16);
        await Deliver(refused, Record(project, organization, goodTrace, Span(goodTrace, "fine", now, TimeSpan.FromSeconds(1))));

        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}'"));
        var (owner, member, viewer) = (Caller("owner", organization, project), Caller("member", organization, project), Caller("viewer", organization, project));
        var list = await GetJson($"/v1/dlq?project_id={project}", viewer);
        var entry = Assert.Single(list.GetProperty("deadLetters").EnumerateArray());
        var id = entry.GetProperty("id").GetString()!;
        Assert.Equal(("spans", "database", "open", 2), (entry.GetProperty("signal").GetString(), entry.GetProperty("stage").GetString(), entry.GetProperty("status").GetString(), entry.GetProperty("count").GetInt32()));
        Assert.Contains(constraint, entry.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal($"{project}:{Convert.ToHexStringLower(trace.Span)}", entry.GetProperty("key").GetString());
        Assert.Equal(fixture.Topic, entry.GetProperty("topic").GetString());

        var detail = await GetJson($"/v1/dlq/{id}", member);
        var spans = detail.GetProperty("decoded").GetProperty("resourceSpans")[0].GetProperty("scopeSpans")[0].GetProperty("spans");
        Assert.Equal([$"refused-{run}", "sibling"], spans.EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        Assert.Equal(refused.Value, Convert.FromBase64String(detail.GetProperty("value").GetString()!));

        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Post, $"/v1/dlq/{id}/replay", viewer)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Post, $"/v1/dlq/{id}/replay", member)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Post, $"/v1/dlq/{id}/replay", Caller("owner", Guid.NewGuid(), Guid.NewGuid()))).Status);
        Assert.Empty((await GetJson("/v1/dlq", Caller("viewer", Guid.NewGuid(), Guid.NewGuid()))).GetProperty("deadLetters").EnumerateArray());

        var stillRefused = await Send(HttpMethod.Post, $"/v1/dlq/{id}/replay", owner);
        Assert.Equal(HttpStatusCode.OK, stillRefused.Status);
        Assert.Equal("open", stillRefused.Body.GetProperty("status").GetString());
        Assert.StartsWith("still not stored (database)", stillRefused.Body.GetProperty("lastReplayOutcome").GetString(), StringComparison.Ordinal);

        await Execute($"ALTER TABLE telemetry.spans DROP CONSTRAINT {constraint}");
        var replayed = await Send(HttpMethod.Post, $"/v1/dlq/{id}/replay", owner);
        Assert.Equal(HttpStatusCode.OK, replayed.Status);
        Assert.Equal(("replayed", 2), (replayed.Body.GetProperty("status").GetString(), replayed.Body.GetProperty("replayAttempts").GetInt32()));
        Assert.Equal("stored: 2 spans new, 0 already stored", replayed.Body.GetProperty("lastReplayOutcome").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, $"/v1/dlq/{id}/replay", owner)).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, $"/v1/dlq/{id}/discard", owner)).Status);

        Assert.Equal(2, await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}' AND trace_id = '{Convert.ToHexStringLower(trace.Span)}'"));
        Assert.Equal(2, await Count($"SELECT span_count FROM telemetry.traces WHERE project_id = '{project}' AND trace_id = '{Convert.ToHexStringLower(trace.Span)}'"));
        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.dead_letters WHERE project_id = '{project}'"));
    }

    [Fact]
    public async Task DeadLetter_OfLogs_ListedDecodedReplayedAfterTheFixStoredOnce()
    {
        var (organization, project) = (Guid.NewGuid(), Guid.NewGuid());
        var run = Guid.NewGuid().ToString("N")[..12];
        await Execute($"ALTER TABLE telemetry.logs ADD CONSTRAINT test_refuse_{run} CHECK (body_text <> 'refused-{run}')");
        var trace = Id(16);
        var now = DateTimeOffset.UtcNow;
        var record = LogRecords.Record(project, trace, "api-tests", [LogRecords.Log(now, $"refused-{run}", trace), LogRecords.Log(now, "kept", trace)]);
        var batch = LogBatch.Parser.ParseFrom(record.Value);
        batch.OrganizationId = organization.ToString();
        record = LogRecords.ToMessage(batch);
        await SpanRecords.ProduceAsync(fixture.Kafka, [record], fixture.LogsTopic);
        await ProcessorHost.WaitUntilDrainedAsync(fixture.Kafka, fixture.LogsTopic);

        var owner = Caller("owner", organization, project);
        var entry = Assert.Single((await GetJson("/v1/dlq", Caller("viewer", organization, project))).GetProperty("deadLetters").EnumerateArray());
        Assert.Equal(("logs", "database", 2, fixture.LogsTopic), (entry.GetProperty("signal").GetString(), entry.GetProperty("stage").GetString(), entry.GetProperty("count").GetInt32(), entry.GetProperty("topic").GetString()));
        var id = entry.GetProperty("id").GetString();
        var records = (await GetJson($"/v1/dlq/{id}", owner)).GetProperty("decoded").GetProperty("resourceLogs")[0].GetProperty("scopeLogs")[0].GetProperty("logRecords");
        Assert.Equal([$"refused-{run}", "kept"], records.EnumerateArray().Select(r => r.GetProperty("body").GetProperty("stringValue").GetString()));
        Assert.Equal(0, await Count($"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}'"));

        await Execute($"ALTER TABLE telemetry.logs DROP CONSTRAINT test_refuse_{run}");
        var replayed = await Send(HttpMethod.Post, $"/v1/dlq/{id}/replay", owner);

        Assert.Equal("stored: 2 logs new, 0 already stored", replayed.Body.GetProperty("lastReplayOutcome").GetString());
        Assert.Equal(2, await Count($"SELECT count(*) FROM telemetry.logs WHERE project_id = '{project}'"));
    }

    [Fact]
    public async Task DeadLetter_Discarded_ResolvedNotStoredNotDeleted()
    {
        var (organization, project) = (Guid.NewGuid(), Guid.NewGuid());
        var run = Guid.NewGuid().ToString("N")[..12];
        await Execute($"ALTER TABLE telemetry.spans ADD CONSTRAINT test_refuse_{run} CHECK (name <> 'refused-{run}')");
        var trace = Id(16);
        await Deliver(Record(project, organization, trace, Span(trace, $"refused-{run}", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1))));
        await Execute($"ALTER TABLE telemetry.spans DROP CONSTRAINT test_refuse_{run}");
        var owner = Caller("owner", organization, project);
        var id = (await GetJson("/v1/dlq", owner)).GetProperty("deadLetters")[0].GetProperty("id").GetString();

        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Post, $"/v1/dlq/{id}/discard", Caller("member", organization, project))).Status);
        var discarded = await Send(HttpMethod.Post, $"/v1/dlq/{id}/discard", owner);

        Assert.Equal(HttpStatusCode.OK, discarded.Status);
        Assert.Equal("discarded", discarded.Body.GetProperty("status").GetString());
        Assert.Equal(owner.Subject, discarded.Body.GetProperty("resolvedBy").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, $"/v1/dlq/{id}/replay", owner)).Status);
        Assert.Equal("discarded", (await GetJson($"/v1/dlq/{id}", owner)).GetProperty("deadLetter").GetProperty("status").GetString());
        Assert.Equal(0, await Count($"SELECT count(*) FROM telemetry.spans WHERE project_id = '{project}'"));
    }

    [Fact]
    public async Task DeadLetter_RecordedTwice_KeptOnce()
    {
        var (organization, project) = (Guid.NewGuid(), Guid.NewGuid());
        var trace = Id(16);
        var message = Record(project, organization, trace, Span(trace, "x", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1)));
        var source = new ConsumeResult<byte[]?, byte[]?> { Message = message, TopicPartitionOffset = new TopicPartitionOffset("redelivered-" + project, 3, 42) };
        var store = fixture.Host.Services.GetRequiredService<DeadLetterStore>();

        store.Record("spans", [new DeadLetter(source, DeadLetterStage.Database, "first delivery")]);
        store.Record("spans", [new DeadLetter(source, DeadLetterStage.Database, "redelivered after a crash")]);

        Assert.Equal(1, await Count($"SELECT count(*) FROM telemetry.dead_letters WHERE project_id = '{project}'"));
        var entry = (await GetJson("/v1/dlq", Caller("viewer", organization, project))).GetProperty("deadLetters")[0];
        Assert.Equal(("first delivery", 3, 42L, organization.ToString()), (entry.GetProperty("reason").GetString(), entry.GetProperty("partition").GetInt32(), entry.GetProperty("offset").GetInt64(), entry.GetProperty("organizationId").GetString()));
    }

    [Fact]
    public async Task DeadLetterList_PagedWithSignedCursor_BoundToItsQuery()
    {
        var (organization, project) = (Guid.NewGuid(), Guid.NewGuid());
        var store = fixture.Host.Services.GetRequiredService<DeadLetterStore>();
        for (var i = 0; i < 3; i++)
        {
            var trace = Id(16);
            var source = new ConsumeResult<byte[]?, byte[]?>
            {
                Message = Record(project, organization, trace, Span(trace, "x", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1))),
                TopicPartitionOffset = new TopicPartitionOffset("paging-" + project, 0, i),
            };
            store.Record("spans", [new DeadLetter(source, DeadLetterStage.Decode, $"letter {i}")]);
        }

        var viewer = Caller("viewer", organization, project);
        var seen = new List<string>();
        string? cursor = null;
        do
        {
            using var request = Request(HttpMethod.Get, $"/v1/dlq?limit=2{(cursor is null ? "" : "&cursor=" + cursor)}", viewer);
            using var response = await fixture.Host.CreateClient().SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = await response.Content.ReadFromJsonAsync<JsonElement>();
            seen.AddRange(page.GetProperty("deadLetters").EnumerateArray().Select(e => e.GetProperty("reason").GetString()!));
            cursor = response.Headers.TryGetValues("X-Next-Cursor", out var next) ? next.Single() : null;
            if (cursor is not null)
            {
                var other = await Send(HttpMethod.Get, $"/v1/dlq?limit=3&cursor={cursor}", viewer);
                Assert.Equal(HttpStatusCode.BadRequest, other.Status);
                Assert.Contains("another query", other.Body.GetProperty("error").GetString(), StringComparison.Ordinal);
            }
        }
        while (cursor is not null);

        Assert.Equal(["letter 2", "letter 1", "letter 0"], seen);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Get, "/v1/dlq?limit=0", viewer)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Get, "/v1/dlq?from=yesterday", viewer)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Get, "/v1/dlq?color=red", viewer)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Get, $"/v1/dlq?project_id={Guid.NewGuid()}", viewer)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, "/v1/dlq", null)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Get, "/v1/dlq", TestIdentity.ApiKey(project, organization))).Status);
    }

    [Fact]
    public async Task ModelPriceOverride_ChangesTheCostOfSpansStoredAfterwards_OnlyForItsOrganization()
    {
        var (organization, project) = (Guid.NewGuid(), Guid.NewGuid());
        var (otherOrganization, otherProject) = (Guid.NewGuid(), Guid.NewGuid());
        var member = Caller("member", organization, project);
        var start = DateTimeOffset.UtcNow;
        var repositoryPrice = ModelPriceTable.Default.Find("openai", "gpt-4o", start.UtcDateTime)!.Value.Price.CostMicros(1000, 500, null, null, null);

        var before = await StoreChatSpan(project, organization, start);
        Assert.Equal((repositoryPrice, "computed"), await Cost(project, before));

        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Put, "/v1/model-prices/gpt-4o", Caller("viewer", organization, project), new { input = 1 })).Status);
        var put = await Send(HttpMethod.Put, "/v1/model-prices/GPT-4o", member, new { input = 1000, output = 2000, cacheRead = (decimal?)null });
        Assert.Equal(HttpStatusCode.Created, put.Status);
        Assert.Equal(("gpt-4o", "organization", 1000m), (put.Body.GetProperty("model").GetString(), put.Body.GetProperty("source").GetString(), put.Body.GetProperty("input").GetDecimal()));

        var after = await StoreChatSpan(project, organization, start);
        var elsewhere = await StoreChatSpan(otherProject, otherOrganization, start);
        Assert.Equal((1000L * 1000 + 500 * 2000, "computed"), await Cost(project, after));
        Assert.Equal((repositoryPrice, "computed"), await Cost(project, before));
        Assert.Equal((repositoryPrice, "computed"), await Cost(otherProject, elsewhere));

        var table = (await GetJson("/v1/model-prices", Caller("viewer", organization, project))).GetProperty("prices").EnumerateArray().ToList();
        var gpt4o = Assert.Single(table, p => p.GetProperty("model").GetString() == "gpt-4o");
        Assert.Equal("organization", gpt4o.GetProperty("source").GetString());
        Assert.Contains(table, p => p.GetProperty("source").GetString() == "repository" && p.GetProperty("model").GetString() == "gpt-4o-mini");
        var others = (await GetJson("/v1/model-prices", Caller("viewer", otherOrganization, otherProject))).GetProperty("prices").EnumerateArray().ToList();
        Assert.DoesNotContain(others, p => p.GetProperty("source").GetString() == "organization");
        Assert.Equal("repository", Assert.Single(others, p => p.GetProperty("model").GetString() == "gpt-4o").GetProperty("source").GetString());

        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Put, "/v1/model-prices/gpt-4o", member, new { input = 3, output = 4 })).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await Send(HttpMethod.Delete, "/v1/model-prices/gpt-4o", Caller("owner", organization, project))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Send(HttpMethod.Delete, "/v1/model-prices/gpt-4o", member)).Status);
        var reverted = await StoreChatSpan(project, organization, start);
        Assert.Equal((repositoryPrice, "computed"), await Cost(project, reverted));
    }

    [Fact]
    public async Task ModelPriceOverride_WithPattern_PricesEveryNameItMatches()
    {
        var (organization, project) = (Guid.NewGuid(), Guid.NewGuid());
        var put = await Send(HttpMethod.Put, "/v1/model-prices/acme", Caller("owner", organization, project), new { pattern = @"acme-(small|large)(-\d+)?", input = 10, output = 20 });
        Assert.Equal(HttpStatusCode.Created, put.Status);

        var span = await StoreChatSpan(project, organization, DateTimeOffset.UtcNow, "acme-large-2");
        var unmatched = await StoreChatSpan(project, organization, DateTimeOffset.UtcNow, "acme-medium");

        Assert.Equal((1000L * 10 + 500 * 20, "computed"), await Cost(project, span));
        Assert.Equal(((long?)null, "none"), await Cost(project, unmatched));
    }

    [Theory]
    [InlineData("""{"input": -1}""", "input must be from 0")]
    [InlineData("""{"output": "2.5"}""", "output must be a number")]
    [InlineData("""{"input": 1, "currency": "EUR"}""", "unknown field 'currency'")]
    [InlineData("""{"pattern": "gpt-(4o", "input": 1}""", "pattern 'gpt-(4o' is not a valid regular expression")]
    [InlineData("""{"pattern": null}""", "give at least one price")]
    [InlineData("""[1]""", "the body must be a JSON object")]
    [InlineData("""{"input": 1""", "the body is not JSON")]
    public async Task ModelPricePut_BadBody_400NamingTheField(string body, string error)
    {
        using var request = Request(HttpMethod.Put, "/v1/model-prices/some-model", Caller("owner", Guid.NewGuid(), Guid.NewGuid()));
        request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await fixture.Host.CreateClient().SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(error, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    private async Task<ByteString> StoreChatSpan(Guid project, Guid organization, DateTimeOffset start, string model = "gpt-4o")
    {
        var trace = Id(16);
        await Deliver(Record(project, organization, trace, Span(trace, "chat " + model, start, TimeSpan.FromSeconds(1), null,
            Str("gen_ai.system", "openai"), Str("gen_ai.operation.name", "chat"), Str("gen_ai.request.model", model),
            Int("gen_ai.usage.input_tokens", 1000), Int("gen_ai.usage.output_tokens", 500))));
        return trace;
    }

    private async Task<(long? Micros, string Source)> Cost(Guid project, ByteString trace)
    {
        await using var command = Db.CreateCommand($"SELECT cost_micros, cost_source FROM telemetry.spans WHERE project_id = '{project}' AND trace_id = '{Convert.ToHexStringLower(trace.Span)}'");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), "the span was not stored");
        return (reader.IsDBNull(0) ? null : reader.GetInt64(0), reader.GetString(1));
    }

    private static CallerIdentity Caller(string role, Guid organization, Guid project) => TestIdentity.Session(role, organization, project);

    private static Message<byte[]?, byte[]?> Record(Guid project, Guid organization, ByteString trace, params Span[] spans) => SpanRecords.ToMessage(new SpanBatch
    {
        ProjectId = project.ToString(),
        OrganizationId = organization.ToString(),
        TraceId = trace,
        ReceivedTimeUnixNano = Nanos(DateTimeOffset.UtcNow),
        ResourceSpans =
        {
            new ResourceSpans
            {
                Resource = new Resource { Attributes = { Str("service.name", "api-tests") } },
                ScopeSpans = { new ScopeSpans { Scope = new InstrumentationScope { Name = "test" }, Spans = { spans } } },
            },
        },
    });

    private async Task Deliver(params Message<byte[]?, byte[]?>[] messages)
    {
        await SpanRecords.ProduceAsync(fixture.Kafka, messages, fixture.Topic);
        await ProcessorHost.WaitUntilDrainedAsync(fixture.Kafka, fixture.Topic);
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, CallerIdentity? caller)
    {
        var request = new HttpRequestMessage(method, path);
        if (caller is not null)
        {
            request.Headers.Add(IdentityAssertion.HeaderName, TestIdentity.Sign(caller));
        }

        return request;
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> Send(HttpMethod method, string path, CallerIdentity? caller, object? body = null)
    {
        using var request = Request(method, path, caller);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        using var response = await fixture.Host.CreateClient().SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private async Task<JsonElement> GetJson(string path, CallerIdentity caller)
    {
        var (status, body) = await Send(HttpMethod.Get, path, caller);
        Assert.True(status == HttpStatusCode.OK, $"GET {path}: {(int)status} {body}");
        return body;
    }

    private Task<long> Count(string sql) => ProcessorHost.CountAsync(Db, sql);

    private async Task Execute(string sql)
    {
        await using var command = Db.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
