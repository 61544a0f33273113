using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Trulayer.AppHost.Model;
using Trulayer.AppHost.Run;
using Trulayer.Workload.Load;

namespace Trulayer.EndToEnd.Tests;

/// <summary>
/// The whole stack from the AppHost's graph, shared by the end-to-end test classes, which run one after
/// another and each leave it whole. Differences from a developer's stack, and why:
/// <list type="bullet">
/// <item>the spans topic has 8 partitions instead of 256: the dev broker keeps 5 MiB per partition, so
/// the backlog ingest admits before it sheds load (half of that per partition by default) is 20 MiB
/// instead of 640 MiB, and a 10-second database outage under a few thousand spans/s reaches it; an
/// unsound bound would let the broker drop records, and the loss count would show it;</item>
/// <item>ingest waits 3 s for Kafka (not 5) and asks clients to retry after 2 s (not 5), to keep faults short;</item>
/// <item>the processor gives up on an unanswered Kafka request after 10 s instead of librdkafka's 60: the dev
/// broker leaves a fetch that was in flight when it went down unanswered, and the consumer waits that long
/// before it reconnects;</item>
/// <item>the API key's rate limit is high enough for the malformed-input test's thousands of requests.</item>
/// </list>
/// </summary>
public sealed class EndToEndStack : StackFixture
{
    public const string SpansTopic = "otlp.spans.e2e";
    public const int SpansPartitions = 8;
    public const string ConsumerGroup = "trulayer-processor";
    public static readonly TimeSpan ProduceTimeout = TimeSpan.FromSeconds(3);
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(2);

    public Guid ProjectId => Guid.Parse(Dev.ProjectId!);

    public string Postgres => App.GetConnectionString("postgres");

    public string Kafka => App.GetConnectionString("kafka");

    /// <summary>Where the load engine sends, with the dev API key (or another key of the dev project).</summary>
    public LoadTarget Target(string? apiKey = null)
        => new(Gateway, App.GetEndpoint("gateway", "grpc"), apiKey ?? Dev.ApiKey!, ProjectId, Postgres, Kafka);

    protected override void Configure(AppModel model)
    {
        AssignPortsBelowTheEphemeralRange(model);
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
            .WithEnvironment("Gateway__RateLimit__ApiKey__Burst", "100000");
    }

    /// <summary>
    /// Gives every endpoint a fixed port below Linux's ephemeral range (32768-60999). The AppHost picks free
    /// ports from that range and the services bind them seconds later, by which time an outgoing connection
    /// (a Kafka or PostgreSQL client, another engineer's test) may hold one as its local port: the service
    /// then fails with "address already in use". Ports outside the range are never handed out that way.
    /// </summary>
    private static void AssignPortsBelowTheEphemeralRange(AppModel model)
    {
        var taken = new HashSet<int>();
        foreach (var project in model.Projects)
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

    public PipelineLag CreateLagReader() => new(Kafka, SpansTopic, ConsumerGroup);

    /// <summary>A new API key of the dev project, made through the gateway by the dev owner.</summary>
    public async Task<string> CreateApiKeyAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Gateway, "/v1/api-keys"))
        {
            Content = JsonContent.Create(new { name = "end-to-end " + Guid.NewGuid().ToString("N")[..8], projectId = ProjectId.ToString() }),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Dev.Sessions!["owner"]);
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST /v1/api-keys: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("key").GetString()!;
    }

    /// <summary>A service's /health answer: HTTP status and the overall status ("Healthy", "Degraded", "Unhealthy").</summary>
    public async Task<(int StatusCode, string Status, string Body)> HealthAsync(string service)
    {
        using var response = await Http.GetAsync(new Uri(App.GetEndpoint(service), "/health"));
        var body = await response.Content.ReadAsStringAsync();
        var status = JsonDocument.Parse(body).RootElement.GetProperty("status").GetString()!;
        return ((int)response.StatusCode, status, body);
    }
}

[CollectionDefinition(Name)]
public sealed class EndToEndCollection : ICollectionFixture<EndToEndStack>
{
    public const string Name = "end-to-end stack";
}
