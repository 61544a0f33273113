using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Trulayer.EndToEnd.Tests;

/// <summary>
/// A project's content policy the whole way: the owner sets it through the gateway, an SDK sends a GenAI span
/// and its log events with the project's key, and what PostgreSQL holds (every column of every row of the
/// project, the stored original included) has the content redacted or dropped, never as sent.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class ContentPolicyEndToEndTests(EndToEndStack stack) : IAsyncLifetime
{
    public Task InitializeAsync() => stack.WaitForBaselineAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [InlineData("redact")]
    [InlineData("drop")]
    public async Task Content_NeverReachesTheDatabase_AsSent(string mode)
    {
        var owner = stack.Dev.Sessions!["owner"];
        var unique = Guid.NewGuid().ToString("N");
        var project = await JsonAsync(HttpMethod.Post, "/v1/projects", owner, new { name = "policy " + unique }, HttpStatusCode.Created);
        var projectId = project.GetProperty("id").GetGuid();
        object policy = mode == "redact" ? new { mode, patterns = new[] { "TICKET-[0-9]{6}" } } : new { mode };
        await JsonAsync(HttpMethod.Put, $"/v1/projects/{projectId}/content-policy", owner, policy, HttpStatusCode.OK);
        var key = (await JsonAsync(HttpMethod.Post, "/v1/api-keys", owner, new { name = "sdk", projectId = projectId.ToString() }, HttpStatusCode.Created))
            .GetProperty("key").GetString()!;

        var email = $"jane.{unique}@example.com";
        var prompt = $"write to {email} about TICKET-123456";
        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var spanId = Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.NextInt64()));
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        var spans = """
            {"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"e2e-policy"}}]},
              "scopeSpans":[{"scope":{"name":"openai"},"spans":[{"traceId":"@TRACEID@","spanId":"@SPANID@","name":"chat gpt-4o","kind":3,
                "startTimeUnixNano":"@NOW@","endTimeUnixNano":"@NOW+1000000@",
                "attributes":[{"key":"gen_ai.system","value":{"stringValue":"openai"}},
                              {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},
                              {"key":"gen_ai.prompt","value":{"stringValue":"@PROMPT@"}},
                              {"key":"gen_ai.completion","value":{"stringValue":"done, @EMAIL@"}}]}]}]}]}
            """.Replace("@TRACEID@", traceId, StringComparison.Ordinal).Replace("@SPANID@", spanId, StringComparison.Ordinal)
            .Replace("@NOW@", now.ToString(), StringComparison.Ordinal).Replace("@NOW+1000000@", (now + 1_000_000).ToString(), StringComparison.Ordinal)
            .Replace("@PROMPT@", prompt, StringComparison.Ordinal).Replace("@EMAIL@", email, StringComparison.Ordinal);
        var logs = """
            {"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"e2e-policy"}}]},
              "scopeLogs":[{"scope":{"name":"openai"},"logRecords":[{"timeUnixNano":"@NOW@","eventName":"gen_ai.user.message","traceId":"@TRACEID@","spanId":"@SPANID@",
                "body":{"kvlistValue":{"values":[{"key":"content","value":{"stringValue":"@PROMPT@"}}]}}}]}]}]}
            """.Replace("@TRACEID@", traceId, StringComparison.Ordinal).Replace("@SPANID@", spanId, StringComparison.Ordinal)
            .Replace("@NOW@", now.ToString(), StringComparison.Ordinal).Replace("@PROMPT@", prompt, StringComparison.Ordinal);
        await SendAsync("/v1/otlp/v1/traces", key, spans);
        await SendAsync("/v1/otlp/v1/logs", key, logs);

        await using var dataSource = NpgsqlDataSource.Create(stack.Postgres);
        var (inputText, outputText) = await StoredSpanAsync(dataSource, projectId);
        await WaitForAsync(dataSource, "SELECT count(*) FROM telemetry.logs WHERE project_id = $1", projectId);

        if (mode == "redact")
        {
            Assert.Equal("write to [REDACTED] about [REDACTED]", inputText);
            Assert.Equal("done, [REDACTED]", outputText);
        }
        else
        {
            Assert.Null(inputText);
            Assert.Null(outputText);
        }

        // Nowhere: no column of any row of the project, in any telemetry table, holds the e-mail address or the ticket.
        foreach (var secret in new[] { email, "TICKET-123456" })
        {
            foreach (var table in new[] { "spans", "logs", "traces", "resources", "scopes" })
            {
                Assert.Equal(0, await RowsHoldingAsync(dataSource, table, projectId, secret));
            }
        }
    }

    private async Task<JsonElement> JsonAsync(HttpMethod method, string path, string credential, object body, HttpStatusCode expected)
    {
        using var response = await stack.SendAsync(method, path, credential, JsonContent.Create(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private async Task SendAsync(string path, string key, string json)
    {
        using var response = await stack.SendAsync(HttpMethod.Post, path, key, new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task<(string? Input, string? Output)> StoredSpanAsync(NpgsqlDataSource dataSource, Guid projectId)
    {
        await WaitForAsync(dataSource, "SELECT count(*) FROM telemetry.spans WHERE project_id = $1", projectId);
        await using var command = dataSource.CreateCommand("SELECT input_text, output_text FROM telemetry.spans WHERE project_id = $1");
        command.Parameters.Add(new() { Value = projectId });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1));
    }

    private static async Task WaitForAsync(NpgsqlDataSource dataSource, string countSql, Guid projectId)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            await using var command = dataSource.CreateCommand(countSql);
            command.Parameters.Add(new() { Value = projectId });
            if ((long)(await command.ExecuteScalarAsync())! > 0)
            {
                return;
            }

            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), $"nothing stored for project {projectId} after 60 s: {countSql}");
            await Task.Delay(250);
        }
    }

    /// <summary>Rows of the project in <paramref name="table"/> whose text form or any bytea column contains <paramref name="secret"/>.</summary>
    private static async Task<long> RowsHoldingAsync(NpgsqlDataSource dataSource, string table, Guid projectId, string secret)
    {
        var byteaColumns = new List<string>();
        await using (var columns = dataSource.CreateCommand(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'telemetry' AND table_name = $1 AND data_type = 'bytea'"))
        {
            columns.Parameters.Add(new() { Value = table });
            await using var reader = await columns.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                byteaColumns.Add(reader.GetString(0));
            }
        }

        var inBytes = string.Concat(byteaColumns.Select(c => $" OR position(convert_to($2, 'UTF8') IN coalesce(t.\"{c}\", ''::bytea)) > 0"));
        await using var command = dataSource.CreateCommand($"SELECT count(*) FROM telemetry.\"{table}\" t WHERE t.project_id = $1 AND (strpos(t::text, $2) > 0{inBytes})");
        command.Parameters.Add(new() { Value = projectId });
        command.Parameters.Add(new() { Value = secret });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
