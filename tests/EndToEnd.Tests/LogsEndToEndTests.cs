using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Resources;

namespace Trulayer.EndToEnd.Tests;

/// <summary>
/// Log records the whole way: an application logging through the OpenTelemetry .NET SDK inside a span, and
/// a Collector's OTLP/JSON batch (GenAI events, a record of no trace) sent to <c>/v1/otlp/v1/logs</c>, both
/// through the gateway with the dev API key; read back through the gateway as the dev owner from the
/// trace's logs and the log list. A Collector's retry of the same batch stores nothing twice.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class LogsEndToEndTests(EndToEndStack stack) : IAsyncLifetime
{
    public Task InitializeAsync() => stack.WaitForBaselineAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task SdkLogs_InsideASpan_ReadBackAsTheTracesLogs()
    {
        var marker = "sdk-log-" + Guid.NewGuid().ToString("N");
        using var activity = new Activity("e2e.logs").SetIdFormat(ActivityIdFormat.W3C).Start();
        using (var factory = LoggerFactory.Create(logging => logging.AddOpenTelemetry(options =>
               {
                   options.SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("e2e-logs-sdk"));
                   options.AddOtlpExporter(exporter =>
                   {
                       exporter.Protocol = OtlpExportProtocol.HttpProtobuf;
                       exporter.Endpoint = new Uri(stack.Gateway, "/v1/otlp/logs");
                       exporter.Headers = $"Authorization=Bearer {stack.Dev.ApiKey}";
                       exporter.TimeoutMilliseconds = 30_000;
                   });
               })))
        {
            var logger = factory.CreateLogger("e2e");
            logger.LogInformation("first {Marker}", marker);
            logger.LogWarning("second {Marker}", marker);
        }

        activity.Stop();

        var records = await TraceLogsAsync(activity.TraceId.ToHexString(), expected: 2);

        Assert.All(records, r => Assert.Equal(activity.SpanId.ToHexString(), r.GetProperty("spanId").GetString(), ignoreCase: true));
        Assert.Equal(["INFO", "WARN"], records.Select(r => r.GetProperty("severityNumber").GetInt32() switch { 9 => "INFO", 13 => "WARN", var n => n.ToString() }).Order());
        // The .NET SDK sends the message template as the body and its arguments as attributes.
        Assert.Equal(["first {Marker}", "second {Marker}"], records.Select(r => r.GetProperty("body").GetProperty("stringValue").GetString()).Order());
        Assert.All(records, r => Assert.Equal(marker, r.GetProperty("attributes").EnumerateArray().Single(a => a.GetProperty("key").GetString() == "Marker").GetProperty("value").GetProperty("stringValue").GetString()));
    }

    [Fact]
    public async Task CollectorJson_GenAiEventsAndARecordOfNoTrace_StoredOnceThoughSentTwice()
    {
        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var spanId = Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.NextInt64()));
        var marker = "collector-log-" + Guid.NewGuid().ToString("N");
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        var json = """
            {"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"e2e-logs-collector"}}]},
              "scopeLogs":[{"scope":{"name":"@opentelemetry/instrumentation-openai"},"logRecords":[
                {"timeUnixNano":"NOW0","eventName":"gen_ai.user.message","traceId":"TRACE","spanId":"SPAN",
                 "severityNumber":9,"body":{"kvlistValue":{"values":[{"key":"content","value":{"stringValue":"MARKER question"}}]}},
                 "attributes":[{"key":"gen_ai.system","value":{"stringValue":"openai"}}]},
                {"timeUnixNano":"NOW1","traceId":"TRACE","spanId":"SPAN","severityNumber":9,
                 "body":{"kvlistValue":{"values":[{"key":"message","value":{"kvlistValue":{"values":[{"key":"content","value":{"stringValue":"MARKER answer"}}]}}}]}},
                 "attributes":[{"key":"event.name","value":{"stringValue":"gen_ai.choice"}}]},
                {"timeUnixNano":"NOW2","severityNumber":17,"severityText":"ERROR","body":{"stringValue":"MARKER no trace"}}
              ]}]}]}
            """
            .Replace("NOW0", now.ToString(), StringComparison.Ordinal).Replace("NOW1", (now + 1).ToString(), StringComparison.Ordinal)
            .Replace("NOW2", (now + 2).ToString(), StringComparison.Ordinal).Replace("TRACE", traceId, StringComparison.Ordinal)
            .Replace("SPAN", spanId, StringComparison.Ordinal).Replace("MARKER", marker, StringComparison.Ordinal);

        // The Collector's otlphttp exporter retries a batch whose answer it did not get: send it twice.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            using var response = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/v1/logs", stack.Dev.ApiKey,
                new StringContent(json, Encoding.UTF8, "application/json"));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        var traced = await TraceLogsAsync(traceId, expected: 2);
        Assert.Equal(["gen_ai.choice", "gen_ai.user.message"], traced.Select(EventName).Order());

        // The record of no trace is in the list (the dashboard's view), once.
        var from = DateTimeOffset.UtcNow.AddMinutes(-10).ToString("O");
        var to = DateTimeOffset.UtcNow.AddMinutes(10).ToString("O");
        var listed = await PollAsync(
            $"/v1/logs?from={Uri.EscapeDataString(from)}&to={Uri.EscapeDataString(to)}&project_id={stack.ProjectId}&q={marker}&limit=100",
            body => body.GetProperty("logs").EnumerateArray().ToList(),
            expected: 3);
        var untraced = Assert.Single(listed, l => l.GetProperty("traceId").ValueKind == JsonValueKind.Null || l.GetProperty("traceId").GetString() is null or "");
        Assert.Equal("error", untraced.GetProperty("severity").GetString());
        Assert.Equal("e2e-logs-collector", untraced.GetProperty("service").GetString());
    }

    private static string? EventName(JsonElement record)
        => record.TryGetProperty("eventName", out var name) && name.GetString() is { Length: > 0 } text
            ? text
            : record.GetProperty("attributes").EnumerateArray().Single(a => a.GetProperty("key").GetString() == "event.name").GetProperty("value").GetProperty("stringValue").GetString();

    /// <summary>The trace's log records (OTLP/JSON LogsData) once <paramref name="expected"/> are stored; fails if more ever are.</summary>
    private Task<List<JsonElement>> TraceLogsAsync(string traceId, int expected)
        => PollAsync(
            $"/v1/traces/{traceId}/logs?project_id={stack.ProjectId}",
            body => body.GetProperty("resourceLogs").EnumerateArray()
                .SelectMany(r => r.GetProperty("scopeLogs").EnumerateArray())
                .SelectMany(s => s.GetProperty("logRecords").EnumerateArray())
                .ToList(),
            expected);

    private async Task<List<JsonElement>> PollAsync(string pathAndQuery, Func<JsonElement, List<JsonElement>> read, int expected)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            using var response = await stack.SendAsync(HttpMethod.Get, pathAndQuery, stack.Dev.Sessions!["owner"]);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {pathAndQuery}: {(int)response.StatusCode} {text}");
            var records = read(JsonDocument.Parse(text).RootElement.Clone());
            if (records.Count >= expected || waited.Elapsed > TimeSpan.FromSeconds(30))
            {
                // A moment more, so a duplicate stored late would show.
                if (records.Count == expected && waited.Elapsed < TimeSpan.FromSeconds(30))
                {
                    await Task.Delay(1000);
                    using var again = await stack.SendAsync(HttpMethod.Get, pathAndQuery, stack.Dev.Sessions!["owner"]);
                    records = read(JsonDocument.Parse(await again.Content.ReadAsStringAsync()).RootElement.Clone());
                }

                Assert.True(records.Count == expected, $"GET {pathAndQuery}: expected {expected} records, got {records.Count}: {text}");
                return records;
            }

            await Task.Delay(250);
        }
    }
}
