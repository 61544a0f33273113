using System.Diagnostics;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Trulayer.Otlp.GenAi;

namespace Trulayer.EndToEnd.Tests;

/// <summary>
/// The plain path: an application instrumented with the OpenTelemetry .NET SDK exports through the
/// gateway with the dev API key, and its spans land in PostgreSQL with their GenAI fields mapped.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class OpenTelemetrySdkTests(EndToEndStack stack) : IAsyncLifetime
{
    private const int Steps = 9;

    /// <summary>
    /// An earlier class's backlog can leave ingest shedding load (503), which the SDK's exporter may drop
    /// rather than retry: what is tested here is the SDK's path, so it starts from the stack's baseline.
    /// </summary>
    public Task InitializeAsync() => stack.WaitForBaselineAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [InlineData("http/protobuf")]
    [InlineData("grpc")]
    public async Task SdkExport_ThroughTheGatewayWithTheDevApiKey_SpansStoredWithTheirGenAiFields(string protocol)
    {
        var service = "sdk-agent-" + protocol.Replace('/', '-');
        using var source = new ActivitySource("trulayer.e2e." + Guid.NewGuid().ToString("N"));
        ActivityTraceId traceId;
        using (var provider = Sdk.CreateTracerProviderBuilder()
                   .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService(service))
                   .AddSource(source.Name)
                   .AddOtlpExporter(exporter =>
                   {
                       exporter.Protocol = protocol == "grpc" ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                       exporter.Endpoint = protocol == "grpc" ? stack.App.GetEndpoint("gateway", "grpc") : new Uri(stack.Gateway, "/v1/otlp/traces");
                       exporter.Headers = $"Authorization=Bearer {stack.Dev.ApiKey}";
                       exporter.TimeoutMilliseconds = 30_000;
                   })
                   .Build())
        {
            traceId = EmitAgentRun(source);
            Assert.True(provider.ForceFlush(30_000), "the SDK's exporter did not flush");
        }

        var rows = await StoredSpansAsync(traceId, Steps + 1);

        var root = rows.Single(r => r.Name == "agent.run");
        Assert.Equal("AGENT", root.SpanType);
        Assert.Equal(service, root.ServiceName);
        var chats = rows.Where(r => r.Name == "chat gpt-4o").ToList();
        Assert.Equal(Steps, chats.Count);
        Assert.All(chats, chat =>
        {
            Assert.Equal("LLM", chat.SpanType);
            Assert.Equal("openai", chat.LlmSystem);
            Assert.Equal("gpt-4o", chat.RequestModel);
            Assert.Equal("gpt-4o-2024-08-06", chat.ResponseModel);
            Assert.Equal(120_000, chat.CostMicros);
            // Stored once: gen_ai.prompt's text as sent, its form named; normalized on read to the semconv 1.37
            // message shape (README.md, "GenAI mapping", "Storage").
            Assert.Equal("gen_ai.prompt", chat.InputForm);
            Assert.StartsWith("summarize step ", chat.InputText, StringComparison.Ordinal);
            Assert.StartsWith("""[{"role":"user","parts":[{"type":"text","content":"summarize step """,
                GenAiContent.Normalize(GenAiField.InputText, chat.InputForm, chat.InputText!), StringComparison.Ordinal);
        });
        Assert.Equal(Enumerable.Range(1, Steps).Select(i => (long?)(100 * i)), chats.Select(c => c.InputTokens).Order());
        Assert.Equal(Enumerable.Range(1, Steps).Select(i => (long?)(10 * i)), chats.Select(c => c.OutputTokens).Order());
    }

    private static ActivityTraceId EmitAgentRun(ActivitySource source)
    {
        using var root = source.StartActivity("agent.run", ActivityKind.Server)!;
        root.SetTag("gen_ai.operation.name", "invoke_agent");
        for (var i = 1; i <= Steps; i++)
        {
            using var chat = source.StartActivity("chat gpt-4o", ActivityKind.Client)!;
            chat.SetTag("gen_ai.system", "openai");
            chat.SetTag("gen_ai.operation.name", "chat");
            chat.SetTag("gen_ai.request.model", "gpt-4o");
            chat.SetTag("gen_ai.response.model", "gpt-4o-2024-08-06");
            chat.SetTag("gen_ai.usage.input_tokens", 100L * i);
            chat.SetTag("gen_ai.usage.output_tokens", 10L * i);
            chat.SetTag("gen_ai.usage.cost", 0.12);
            chat.SetTag("gen_ai.prompt", $"summarize step {i}: " + new string('x', 2048));
            chat.SetTag("gen_ai.completion", "done");
        }

        return root.TraceId;
    }

    private sealed record StoredSpan(
        string Name, string SpanType, string? ServiceName, string? LlmSystem, string? RequestModel, string? ResponseModel,
        long? InputTokens, long? OutputTokens, long? CostMicros, string? InputText, string? InputForm);

    /// <summary>The trace's rows once all <paramref name="expected"/> are stored (the processor writes within a second or so).</summary>
    private async Task<List<StoredSpan>> StoredSpansAsync(ActivityTraceId traceId, int expected)
    {
        Span<byte> bytes = stackalloc byte[16];
        traceId.CopyTo(bytes);
        var trace = new Guid(bytes, bigEndian: true);
        await using var dataSource = NpgsqlDataSource.Create(stack.Postgres);
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var rows = new List<StoredSpan>();
            await using (var command = dataSource.CreateCommand(
                             """
                             SELECT name, span_type, service_name, llm_system, request_model, response_model,
                                    input_tokens, output_tokens, cost_micros, input_text, input_form
                             FROM telemetry.spans WHERE project_id = $1 AND trace_id = $2
                             """))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = stack.ProjectId });
                command.Parameters.Add(new NpgsqlParameter { Value = trace });
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    rows.Add(new StoredSpan(
                        reader.GetString(0), reader.GetString(1), Text(reader, 2), Text(reader, 3), Text(reader, 4), Text(reader, 5),
                        Number(reader, 6), Number(reader, 7), Number(reader, 8), Text(reader, 9), Text(reader, 10)));
                }
            }

            if (rows.Count >= expected || waited.Elapsed > TimeSpan.FromSeconds(30))
            {
                Assert.Equal(expected, rows.Count);
                return rows;
            }

            await Task.Delay(250);
        }
    }

    private static string? Text(NpgsqlDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetString(column);

    private static long? Number(NpgsqlDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetInt64(column);
}
