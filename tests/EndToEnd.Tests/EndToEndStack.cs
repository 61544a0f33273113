using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using Trulayer.AppHost.Model;
using Trulayer.AppHost.Run;
using Trulayer.Workload;
using Trulayer.Workload.Load;

namespace Trulayer.EndToEnd.Tests;

/// <summary>
/// The whole stack from the AppHost's graph, shared by the end-to-end test classes, which run one after
/// another and each leave it whole. Differences from a developer's stack, and why:
/// <list type="bullet">
/// <item>the spans topic has 8 partitions instead of 256: the dev broker keeps 5 MiB per partition, so
/// the backlog ingest admits before it sheds load (half of that per partition by default) is 20 MiB
/// instead of 640 MiB, and a database outage under a few thousand spans/s reaches it within seconds; an
/// unsound bound would let the broker drop records, and the loss count would show it;</item>
/// <item>ingest waits 3 s for Kafka (not 5) and asks clients to retry after 2 s (not 5), to keep faults short;</item>
/// <item>the processor gives up on an unanswered Kafka request after 10 s instead of librdkafka's 60: the dev
/// broker leaves a fetch that was in flight when it went down unanswered, and the consumer waits that long
/// before it reconnects;</item>
/// <item>the API key's rate limit is high enough for the malformed-input test's thousands of requests;</item>
/// <item>the gateway reuses a verdict on a credential for 30 s, its default and most, set here because the
/// database outage test relies on it: a key verified before PostgreSQL stops keeps working without Auth.Api
/// (which needs PostgreSQL) until its verdict expires.</item>
/// </list>
/// Every class starts from <see cref="WaitForBaselineAsync"/>, and a class that breaks something waits for it
/// again at its end, so no class depends on what another left behind. <see cref="ReplicaStack"/> is the same
/// stack with several processes of ingest and of the processor.
/// </summary>
public class EndToEndStack : StackFixture
{
    public const string SpansTopic = "otlp.spans.e2e";
    public const int SpansPartitions = 8;
    public const string LogsTopic = Trulayer.ServiceDefaults.Kafka.KafkaTopics.Logs;
    public const string ConsumerGroup = "trulayer-processor";
    public static readonly TimeSpan ProduceTimeout = TimeSpan.FromSeconds(3);
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan CredentialCacheTtl = TimeSpan.FromSeconds(30);

    public Guid ProjectId => Guid.Parse(Dev.ProjectId!);

    public string Postgres => App.GetConnectionString("postgres");

    public string Kafka => App.GetConnectionString("kafka");

    /// <summary>Where the load engine sends, with the dev API key (or another key of the dev project).</summary>
    public LoadTarget Target(string? apiKey = null)
        => new(Gateway, App.GetEndpoint("gateway", "grpc"), apiKey ?? Dev.ApiKey!, ProjectId, Postgres, Kafka);

    /// <summary>Processes per service (none named: one of each).</summary>
    protected virtual IReadOnlyDictionary<string, int> Replicas { get; } = new Dictionary<string, int>();

    protected override RunOptions CreateRunOptions(string stateDirectory) => base.CreateRunOptions(stateDirectory) with { Replicas = Replicas };

    protected override void Configure(AppModel model)
    {
        AssignPortsBelowTheEphemeralRange(model, except: Replicas.Keys);
        model.Get<KafkaResource>("kafka").WithTopic(SpansTopic, SpansPartitions);
        model.Get<ProjectResource>("processor")
            .WithEnvironment("Kafka__SpansTopic", SpansTopic)
            .WithEnvironment("Kafka__Consumer__socket.timeout.ms", "10000");
        model.Get<ProjectResource>("ingest")
            .WithEnvironment("Kafka__SpansTopic", SpansTopic)
            .WithEnvironment("Kafka__ProduceTimeout", ProduceTimeout.ToString("c", CultureInfo.InvariantCulture))
            .WithEnvironment("Ingest__RetryAfter", RetryAfter.ToString("c", CultureInfo.InvariantCulture));
        model.Get<ProjectResource>("gateway")
            .WithEnvironment("Gateway__RateLimit__ApiKey__PermitsPerSecond", "100000")
            .WithEnvironment("Gateway__RateLimit__ApiKey__Burst", "100000")
            .WithEnvironment("Gateway__CredentialCacheTtl", CredentialCacheTtl.ToString("c", CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Gives every endpoint a fixed port below Linux's ephemeral range (32768-60999). The AppHost picks free
    /// ports from that range and the services bind them seconds later, by which time an outgoing connection
    /// (a Kafka or PostgreSQL client, another engineer's test) may hold one as its local port: the service
    /// then fails with "address already in use". Ports outside the range are never handed out that way.
    /// A service run as several replicas needs a port per replica, which the AppHost's own choice gives
    /// (<see cref="Ports.GetFree"/>, also below the range).
    /// </summary>
    private static void AssignPortsBelowTheEphemeralRange(AppModel model, IEnumerable<string> except)
    {
        var taken = new HashSet<int>();
        foreach (var project in model.Projects.Where(p => !except.Contains(p.Name)))
        {
            for (var i = 0; i < project.Endpoints.Count; i++)
            {
                int port;
                do
                {
                    port = Random.Shared.Next(20_000, 32_768);
                }
                while (!taken.Add(port) || !IsFree(port));

                project.Endpoints[i] = project.Endpoints[i] with { Port = port };
            }
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    /// <summary>The last log lines of some services, for a failure message.</summary>
    public string LogTail(int lines = 40, params string[] resources)
        => string.Join('\n', Log.Lines.Where(l => resources.Any(r => l.StartsWith(r, StringComparison.Ordinal))).TakeLast(lines));

    /// <summary>The processor group's backlog on <paramref name="topic"/> (the spans topic, or <see cref="LogsTopic"/>).</summary>
    public PipelineLag CreateLagReader(string topic = SpansTopic) => new(Kafka, topic, ConsumerGroup);

    /// <summary>A new API key of the dev project, made through the gateway by the dev owner.</summary>
    public async Task<string> CreateApiKeyAsync()
    {
        var (key, answer) = await TryCreateApiKeyAsync();
        Assert.True(key is not null, "POST /v1/api-keys: " + answer);
        return key;
    }

    private async Task<(string? Key, string Answer)> TryCreateApiKeyAsync()
    {
        var content = JsonContent.Create(new { name = "end-to-end " + Guid.NewGuid().ToString("N")[..8], projectId = ProjectId.ToString() });
        using var response = await SendAsync(HttpMethod.Post, "/v1/api-keys", Dev.Sessions!["owner"], content);
        var text = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode
            ? (JsonDocument.Parse(text).RootElement.GetProperty("key").GetString(), "")
            : (null, $"{(int)response.StatusCode} {text}");
    }

    /// <summary>A service's /health answer: HTTP status and the overall status ("Healthy", "Degraded", "Unhealthy").</summary>
    public async Task<(int StatusCode, string Status, string Body)> HealthAsync(string service)
    {
        using var response = await Http.GetAsync(new Uri(App.GetEndpoint(service), "/health"));
        var body = await response.Content.ReadAsStringAsync();
        var status = JsonDocument.Parse(body).RootElement.GetProperty("status").GetString()!;
        return ((int)response.StatusCode, status, body);
    }

    /// <summary>
    /// Waits until the stack is as every test class expects to find it, whatever the class before did to it:
    /// the processor has stored everything Kafka holds (lag 0 on the spans and the logs topic), ingest admits spans (/health Healthy, not
    /// Degraded), and auth, ingest and export each answer a request through the gateway whose credential
    /// Auth.Api verifies. The last takes a few tries after PostgreSQL restarted: Npgsql keeps the dead
    /// connections in its pools, and each fails one request before it is dropped. Fails naming what was not reached.
    /// </summary>
    public async Task WaitForBaselineAsync()
    {
        await WaitDrainedAsync();
        foreach (var ingest in App.GetReplicas("ingest"))
        {
            await WaitUntilAsync($"{ingest}'s /health to answer Healthy (admitting spans)", TimeSpan.FromSeconds(60), async () =>
            {
                var (_, status, body) = await HealthAsync(ingest);
                return (status == "Healthy", body);
            });
        }

        // A new key: the gateway has no verdict on it yet and must ask Auth.Api, which asks PostgreSQL.
        string? apiKey = null;
        await WaitUntilAsync("auth to create an API key through the gateway", TimeSpan.FromSeconds(60), async () =>
        {
            (apiKey, var answer) = await TryCreateApiKeyAsync();
            return (apiKey is not null, answer);
        });

        var trace = StandardBatch.Lean(spans: 10, traces: 1);
        var traceId = Convert.ToHexStringLower(StandardBatch.TraceIds(trace).Single().ToByteArray());
        await WaitUntilAsync("ingest to take a trace through the gateway with a new API key", TimeSpan.FromSeconds(60), async () =>
        {
            var content = new ByteArrayContent(trace.ToByteArray());
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
            using var response = await SendAsync(HttpMethod.Post, LoadTarget.TracesPath, apiKey, content);
            return (response.IsSuccessStatusCode, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        });

        await WaitUntilAsync("export to return that trace through the gateway once stored", TimeSpan.FromSeconds(60), async () =>
        {
            using var response = await SendAsync(HttpMethod.Get, "/v1/traces/" + traceId, Dev.Sessions!["owner"]);
            var text = await response.Content.ReadAsStringAsync();
            return (response.IsSuccessStatusCode, $"{(int)response.StatusCode} {(text.Length > 300 ? text[..300] : text)}");
        });

        await WaitDrainedAsync();
    }

    private async Task WaitDrainedAsync()
    {
        var cap = TimeSpan.FromMinutes(3);
        foreach (var topic in new[] { SpansTopic, LogsTopic })
        {
            using var lag = CreateLagReader(topic);
            var last = "the lag could not be read";
            var drained = await lag.WaitDrainedAsync(cap, reading => last = reading is null
                ? "the lag could not be read"
                : $"{reading.TotalRecords} records on {reading.Partitions.Count(p => p.Records > 0)} partitions not yet stored");
            Assert.True(drained, $"baseline not reached: the pipeline did not drain {topic} (lag 0) within {cap.TotalSeconds:0} s; last seen: {last}\n" +
                                 LogTail(40, "processor", "ingest"));
        }
    }

    /// <summary>Polls <paramref name="probe"/> until it reports <paramref name="goal"/> reached; fails after <paramref name="cap"/> with the last thing it saw.</summary>
    private async Task WaitUntilAsync(string goal, TimeSpan cap, Func<Task<(bool Reached, string Seen)>> probe)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            string seen;
            try
            {
                (var reached, seen) = await probe();
                if (reached)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
            {
                seen = "no answer: " + ex.Message;
            }

            Assert.True(waited.Elapsed < cap, $"baseline not reached: {goal} within {cap.TotalSeconds:0} s; last seen: {seen}\n" +
                                              LogTail(40, "gateway", "auth", "ingest", "export", "processor"));
            await Task.Delay(250);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class EndToEndCollection : ICollectionFixture<EndToEndStack>
{
    public const string Name = "end-to-end stack";
}
