using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Trulayer.AppHost.Run;
using Trulayer.Ingest;
using Trulayer.Ingest.Admission;
using Trulayer.ServiceDefaults.Identity;
using Trulayer.Workload;

namespace Trulayer.EndToEnd.Tests;

/// <summary>
/// Ingest's lag-aware admission against a real broker, with no processor: the "processor" group's lag is
/// whatever ingest produced, until the test commits offsets for it as a processor that caught up would.
/// Each test has a topic and group of its own on the class's dev broker.
/// </summary>
public sealed class AdmissionTests(KafkaFixture kafka) : IClassFixture<KafkaFixture>
{
    private static readonly Guid Project = Guid.NewGuid();

    [Fact]
    public async Task Backlog_OverTheRecordBound_Refuses503WithRetryAfterAndDegradedHealth_UntilTheProcessorCommits()
    {
        using var ingest = new IngestApp(kafka, new()
        {
            ["Ingest:Admission:MaxPartitionRecords"] = "3",
            ["Ingest:RetryAfter"] = "00:00:03",
        });
        using var http = ingest.CreateClient();
        using var gauges = new GaugeReader(ingest.Services.GetRequiredService<IMeterFactory>());
        var lean = StandardBatch.Lean(spans: 100, traces: 10).ToByteArray();

        var refused = await SendUntilRefusedAsync(http, lean);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(3), refused.Headers.RetryAfter?.Delta);
        var status = Google.Rpc.Status.Parser.ParseFrom(await refused.Content.ReadAsByteArrayAsync());
        Assert.Equal(14, status.Code);
        Assert.Contains("backlog is over its bound", status.Message, StringComparison.Ordinal);
        Assert.Contains("nothing of this request is acknowledged", status.Message, StringComparison.Ordinal);
        var (healthCode, health) = await HealthAsync(http);
        Assert.Equal(HttpStatusCode.OK, healthCode);
        Assert.Equal("Degraded", health.GetProperty("status").GetString());
        Assert.Equal("Degraded", health.GetProperty("checks").GetProperty("admission").GetProperty("status").GetString());
        Assert.Equal(0, gauges.Read("trulayer.ingest.admission.admitting", ingest.Topic));
        Assert.True(gauges.Read("trulayer.ingest.backlog.partition.records", ingest.Topic) > 3);

        CommitEverything(ingest.Topic, ingest.Group);

        // One trace is one record: wherever it lands, no partition comes near the bound again, so no lag
        // reading taken after it can turn admission back to refusing before the checks below.
        var oneTrace = StandardBatch.Lean(spans: 10, traces: 1).ToByteArray();
        var admitted = await SendUntilAsync(http, oneTrace, HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        (_, health) = await HealthAsync(http);
        Assert.Equal("Healthy", health.GetProperty("checks").GetProperty("admission").GetProperty("status").GetString());
        Assert.Equal(1, gauges.Read("trulayer.ingest.admission.admitting", ingest.Topic));
    }

    [Fact]
    public async Task LogsBacklog_OverItsBound_RefusesLogRecords_WhileSpansAreStillAdmitted()
    {
        // Log records have a topic of their own, so a backlog and a bound of their own: a processor that
        // falls behind on logs must not let ingest acknowledge more than the broker keeps.
        using var ingest = new IngestApp(kafka, new() { ["Ingest:Admission:MaxPartitionRecords"] = "3" });
        using var http = ingest.CreateClient();
        using var gauges = new GaugeReader(ingest.Services.GetRequiredService<IMeterFactory>());
        var logs = StandardLogs.Application(records: 100, traces: 10).ToByteArray();

        var refused = await SendUntilAsync(http, logs, HttpStatusCode.ServiceUnavailable, "/v1/otlp/logs");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        var status = Google.Rpc.Status.Parser.ParseFrom(await refused.Content.ReadAsByteArrayAsync());
        Assert.Contains($"backlog is over its bound (topic {ingest.LogsTopic},", status.Message, StringComparison.Ordinal);
        using var spans = await SendAsync(http, StandardBatch.Lean(spans: 10, traces: 1).ToByteArray());
        Assert.Equal(HttpStatusCode.OK, spans.StatusCode);
        // Health and metrics say which topic is refused: the logs one, not the spans one.
        var (_, health) = await HealthAsync(http);
        var logsCheck = health.GetProperty("checks").GetProperty("admission.logs");
        Assert.Equal("Degraded", logsCheck.GetProperty("status").GetString());
        Assert.Contains("refusing new log records", logsCheck.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal(ingest.LogsTopic, logsCheck.GetProperty("data").GetProperty("topic").GetString());
        Assert.Equal("Healthy", health.GetProperty("checks").GetProperty("admission").GetProperty("status").GetString());
        Assert.Equal(0, gauges.Read("trulayer.ingest.admission.admitting", ingest.LogsTopic));
        Assert.Equal(1, gauges.Read("trulayer.ingest.admission.admitting", ingest.Topic));
        Assert.True(gauges.Read("trulayer.ingest.backlog.partition.records", ingest.LogsTopic) > 3);

        CommitEverything(ingest.LogsTopic, ingest.Group);
        var admitted = await SendUntilAsync(http, StandardLogs.Application(records: 10, traces: 1).ToByteArray(), HttpStatusCode.OK, "/v1/otlp/logs");
        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        (_, health) = await HealthAsync(http);
        Assert.Equal("Healthy", health.GetProperty("checks").GetProperty("admission.logs").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Backlog_OverTheByteBound_IsEstimatedFromTheRecordsIngestProduced()
    {
        // GenAI traces of 100 spans make records of about 160 KB: three in one partition pass 400 KB,
        // far below the default record bound (50,000).
        using var ingest = new IngestApp(kafka, new() { ["Ingest:Admission:MaxPartitionBytes"] = "400000" });
        using var http = ingest.CreateClient();
        var genAi = StandardBatch.GenAi().ToByteArray();
        var recordBytes = genAi.Length / StandardBatch.DefaultTraces;

        var refused = await SendUntilRefusedAsync(http, genAi);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        var (_, health) = await HealthAsync(http);
        var data = health.GetProperty("checks").GetProperty("admission").GetProperty("data");
        var estimate = data.GetProperty("bytesPerRecord").GetDouble();
        Assert.InRange(estimate, recordBytes * 0.8, recordBytes * 1.2);
        Assert.InRange(data.GetProperty("fullestPartitionRecords").GetInt64(), 3, 50);
        Assert.Equal(50_000, data.GetProperty("maxPartitionRecords").GetInt64());
    }

    [Fact]
    public async Task Bounds_ByDefault_AreHalfOfWhatTheDevBrokerKeepsPerPartition()
    {
        using var ingest = new IngestApp(kafka, []);
        using var http = ingest.CreateClient();

        var health = await WaitForReadingAsync(http);

        var data = health.GetProperty("checks").GetProperty("admission").GetProperty("data");
        Assert.Equal(5 * 1024 * 1024 / 2, data.GetProperty("maxPartitionBytes").GetInt64());
        Assert.Equal(100_000 / 2, data.GetProperty("maxPartitionRecords").GetInt64());
    }

    [Fact]
    public async Task Admission_TurnedOff_AdmitsWhateverTheBacklog()
    {
        using var ingest = new IngestApp(kafka, new()
        {
            ["Ingest:Admission:Enabled"] = "false",
            ["Ingest:Admission:MaxPartitionRecords"] = "1",
        });
        using var http = ingest.CreateClient();
        var lean = StandardBatch.Lean(spans: 100, traces: 10).ToByteArray();

        for (var i = 0; i < 10; i++)
        {
            using var response = await SendAsync(http, lean);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await Task.Delay(100);
        }

        var (_, health) = await HealthAsync(http);
        Assert.Contains("admission is off", health.GetProperty("checks").GetProperty("admission").GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("MaxPartitionBytes", "0")]
    [InlineData("MaxPartitionRecords", "-5")]
    [InlineData("SafetyMargin", "1")]
    [InlineData("ResumeBelow", "1.5")]
    [InlineData("RefreshInterval", "00:00:00.010")]
    [InlineData("StaleAfter", "00:00:01.500")]
    public async Task Options_OutOfRange_StopIngestAtStartNamingTheKey(string key, string value)
    {
        // The real Ingest.Api process, as the AppHost runs it: a service with a bad setting must not start.
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Ingest.Api.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["ConnectionStrings__kafka"] = kafka.BootstrapServers,
                ["Identity__AssertionKey"] = TestIdentity.AssertionKey,
                ["Kestrel__Endpoints__http__Url"] = "http://127.0.0.1:0",
                ["ASPNETCORE_URLS"] = "",
                ["Ingest__Admission__" + key] = value,
            },
        };
        DevKafkaBroker.TuneSocketsOfRunningBrokers();
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains("Ingest:Admission:" + key, await output + await error, StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> SendUntilRefusedAsync(HttpClient http, byte[] body)
        => await SendUntilAsync(http, body, HttpStatusCode.ServiceUnavailable);

    /// <summary>Sends the same spans (as a new request each time) until ingest answers <paramref name="expected"/>, for at most 20 s.</summary>
    private static async Task<HttpResponseMessage> SendUntilAsync(HttpClient http, byte[] body, HttpStatusCode expected, string path = "/v1/otlp/traces")
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var response = await SendAsync(http, body, path);
            if (response.StatusCode == expected || waited.Elapsed > TimeSpan.FromSeconds(20))
            {
                return response;
            }

            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, $"{response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            response.Dispose();
            await Task.Delay(100);
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, byte[] body, string path = "/v1/otlp/traces")
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.Add(IdentityAssertion.HeaderName, TestIdentity.Sign(TestIdentity.ApiKey(Project)));
        return await http.SendAsync(request);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> HealthAsync(HttpClient http)
    {
        using var response = await http.GetAsync("/health");
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    /// <summary>/health once the admission has read the lag.</summary>
    private static async Task<JsonElement> WaitForReadingAsync(HttpClient http)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var (_, health) = await HealthAsync(http);
            var admission = health.GetProperty("checks").GetProperty("admission");
            if (admission.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object)
            {
                return health;
            }

            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), $"admission never read the lag: {admission}");
            await Task.Delay(100);
        }
    }

    /// <summary>What a processor does once it has stored everything: commit the high watermark of every partition.</summary>
    private void CommitEverything(string topic, string group)
    {
        var factory = kafka.CreateClientFactory();
        using var consumer = factory.CreateConsumer<byte[], byte[]>("test-processor", group);
        var partitions = Enumerable.Range(0, KafkaFixture.SpansPartitions).Select(p => new TopicPartition(topic, p)).ToList();
        var offsets = partitions.Select(p => new TopicPartitionOffset(p, consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High)).ToList();
        consumer.Commit(offsets);
        consumer.Close();
    }

    /// <summary>Ingest.Api in memory (its own Program) against the class's broker, on a topic and group of its own.</summary>
    private sealed class IngestApp : WebApplicationFactory<IngestService>
    {
        private readonly Dictionary<string, string?> _settings;

        public IngestApp(KafkaFixture kafka, Dictionary<string, string?> settings)
        {
            Topic = kafka.CreateTopic("admission");
            LogsTopic = kafka.CreateTopic("admission-logs");
            Group = "admission-" + Guid.NewGuid().ToString("N");
            _settings = new Dictionary<string, string?>
            {
                ["ConnectionStrings:kafka"] = kafka.BootstrapServers,
                ["Kafka:SpansTopic"] = Topic,
                ["Kafka:LogsTopic"] = LogsTopic,
                ["Kafka:ConsumerGroup"] = Group,
                [TestIdentity.Configuration.Key] = TestIdentity.Configuration.Value,
                ["Ingest:Admission:RefreshInterval"] = "00:00:00.200",
                ["Logging:LogLevel:Default"] = "Warning",
            };
            foreach (var (key, value) in settings)
            {
                _settings[key] = value;
            }

            StartServer();
        }

        public string Topic { get; }

        public string LogsTopic { get; }

        public string Group { get; }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (key, value) in _settings)
            {
                builder.UseSetting(key, value);
            }
        }
    }

    /// <summary>Reads the observable gauges of one host's "Trulayer.Ingest" meter, per topic.</summary>
    private sealed class GaugeReader : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<(string Instrument, string? Topic), double> _values = [];

        public GaugeReader(IMeterFactory scope)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == IngestMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, scope))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => _values[(instrument.Name, Topic(tags))] = value);
            _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => _values[(instrument.Name, Topic(tags))] = value);
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => _values[(instrument.Name, Topic(tags))] = value);
            _listener.Start();
        }

        public double Read(string instrument, string topic)
        {
            _values.Clear();
            _listener.RecordObservableInstruments();
            return _values.TryGetValue((instrument, topic), out var value)
                ? value
                : throw new InvalidOperationException($"{instrument} reported nothing for {topic}");
        }

        private static string? Topic(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == AdmissionMetrics.TopicTag)
                {
                    return tag.Value as string;
                }
            }

            return null;
        }

        public void Dispose() => _listener.Dispose();
    }
}
