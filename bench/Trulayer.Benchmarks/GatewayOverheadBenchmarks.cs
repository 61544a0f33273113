using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using Trulayer.AppHost.Model;
using Trulayer.AppHost.Run;
using Trulayer.ServiceDefaults.Identity;
using Trulayer.Workload;
using Trulayer.Workload.Load;

namespace Trulayer.Benchmarks;

/// <summary>
/// Gateway overhead: the same authenticated 64 KiB OTLP/protobuf ingest request sent straight to
/// Ingest.Api (with the signed identity assertion the gateway would add), through the gateway (with
/// the dev API key), and, for reference, through nginx with the assertion (<see cref="ReferenceProxy"/>:
/// what proxying alone costs on this machine), against one running stack, in one run. Each invocation is a round of
/// <see cref="RequestsPerRound"/> requests from <see cref="Concurrency"/> clients: BenchmarkDotNet's
/// time per operation is the time per request at that concurrency (so requests/s is its inverse), and
/// the p50/p99 columns are the latencies of the single requests of the measured rounds. The CPU columns
/// are the CPU time the proxy (gateway or nginx) and ingest processes spent per request (from /proc, all threads),
/// which, unlike latency, does not depend on what else the machine is doing.
/// The stack runs in Release with the gateway's rate limit raised out of the way; everything else is as
/// shipped, the access log included (every refusal and slow request, up to 10 successful ones a second).
/// <code>dotnet run -c Release --project bench/Trulayer.Benchmarks -- --filter '*GatewayOverhead*'</code>
/// </summary>
[Config(typeof(Config))]
public class GatewayOverheadBenchmarks
{
    public const int RequestsPerRound = 1000;
    private const int WarmupRounds = 2;
    private const int MeasuredRounds = 10;
    public const string IngestPath = "/v1/otlp/traces";

    private static readonly Lazy<Task<Stack>> SharedStack = new(Stack.StartAsync);
    private static readonly ConcurrentDictionary<string, List<double[]>> Latencies = new();
    private static readonly ConcurrentDictionary<string, List<(double Proxy, double Ingest)>> CpuPerRequest = new();

    private Stack _stack = null!;
    private double[] _round = [];
    private int _next;
    private (TimeSpan Proxy, TimeSpan Ingest) _cpuAtStart;

    [Params(1, 8)]
    public int Concurrency { get; set; }

    [GlobalSetup]
    public void Setup() => _stack = SharedStack.Value.GetAwaiter().GetResult();

    [IterationSetup(Target = nameof(StraightToIngest))]
    public void BeforeDirectRound() => StartRound(nameof(StraightToIngest));

    [IterationSetup(Target = nameof(ThroughGateway))]
    public void BeforeGatewayRound() => StartRound(nameof(ThroughGateway));

    [IterationCleanup(Target = nameof(StraightToIngest))]
    public void AfterDirectRound() => EndRound(nameof(StraightToIngest));

    [IterationCleanup(Target = nameof(ThroughGateway))]
    public void AfterGatewayRound() => EndRound(nameof(ThroughGateway));

    [Benchmark(Baseline = true, OperationsPerInvoke = RequestsPerRound)]
    public Task StraightToIngest() => RunRoundAsync(_stack.Direct);

    [Benchmark(OperationsPerInvoke = RequestsPerRound)]
    public Task ThroughGateway() => RunRoundAsync(_stack.ThroughGateway);

    [IterationSetup(Target = nameof(ThroughReferenceProxy))]
    public void BeforeReferenceRound() => StartRound(nameof(ThroughReferenceProxy));

    [IterationCleanup(Target = nameof(ThroughReferenceProxy))]
    public void AfterReferenceRound() => EndRound(nameof(ThroughReferenceProxy));

    [Benchmark(OperationsPerInvoke = RequestsPerRound)]
    public Task ThroughReferenceProxy() => RunRoundAsync(_stack.ThroughReferenceProxy);

    private void StartRound(string benchmark)
    {
        _round = new double[RequestsPerRound];
        _next = -1;
        Latencies.GetOrAdd(Key(benchmark, Concurrency), _ => []).Add(_round);
        _cpuAtStart = _stack.CpuTime(benchmark);
    }

    private void EndRound(string benchmark)
    {
        var (proxy, ingest) = _stack.CpuTime(benchmark);
        CpuPerRequest.GetOrAdd(Key(benchmark, Concurrency), _ => []).Add((
            (proxy - _cpuAtStart.Proxy).TotalMicroseconds / RequestsPerRound,
            (ingest - _cpuAtStart.Ingest).TotalMicroseconds / RequestsPerRound));
    }

    private async Task RunRoundAsync(Func<HttpRequestMessage> request)
    {
        var round = _round;
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref _next)) < RequestsPerRound)
            {
                var started = Stopwatch.GetTimestamp();
                using var message = request();
                using var response = await _stack.Http.SendAsync(message);
                await response.Content.LoadIntoBufferAsync();
                round[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (!Stack.IsAnswerOfIngest(response.StatusCode))
                {
                    throw new InvalidOperationException($"the request was refused: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
            }
        }));
    }

    private static string Key(string benchmark, int concurrency) => $"{benchmark}/{concurrency}";

    /// <summary>Latencies of the measured rounds (the rounds before them are the jitting and warmup ones).</summary>
    private static double[] Measured(BenchmarkCase benchmark)
    {
        var key = Key(benchmark.Descriptor.WorkloadMethod.Name, (int)benchmark.Parameters["Concurrency"]);
        if (!Latencies.TryGetValue(key, out var rounds))
        {
            return [];
        }

        var all = rounds.TakeLast(MeasuredRounds).SelectMany(r => r).Where(l => l > 0).ToArray();
        Array.Sort(all);
        return all;
    }

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            // In process: the stack is started once and shared by every case, and the latency columns
            // read what the rounds recorded in this process.
            AddJob(Job.Default
                .WithToolchain(InProcessEmitToolchain.Instance)
                .WithWarmupCount(WarmupRounds)
                .WithIterationCount(MeasuredRounds)
                .WithInvocationCount(1)
                .WithUnrollFactor(1));
            AddColumn(
                new ThroughputColumn(),
                new LatencyColumn("p50 latency", 0.50),
                new LatencyColumn("p99 latency", 0.99),
                new CpuColumn("proxy CPU/req", c => c.Proxy),
                new CpuColumn("ingest CPU/req", c => c.Ingest));
            AddColumnProvider(DefaultColumnProviders.Instance);
        }
    }

    private sealed class ThroughputColumn() : CustomColumn("requests/s", "Requests answered per second at the case's concurrency (1 / time per request)")
    {
        public override string GetValue(Summary summary, BenchmarkCase benchmarkCase)
            => summary[benchmarkCase]?.ResultStatistics is { } statistics
                ? (1e9 / statistics.Mean).ToString("N0", CultureInfo.InvariantCulture)
                : "-";
    }

    private sealed class LatencyColumn(string name, double quantile) : CustomColumn(name, $"The {quantile:P0} quantile of single request latencies in the measured rounds", 1)
    {
        public override string GetValue(Summary summary, BenchmarkCase benchmarkCase)
        {
            var latencies = Measured(benchmarkCase);
            return latencies.Length == 0
                ? "-"
                : latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(quantile * latencies.Length) - 1)].ToString("0.000 ms", CultureInfo.InvariantCulture);
        }
    }

    private sealed class CpuColumn(string name, Func<(double Proxy, double Ingest), double> select) : CustomColumn(name, "CPU time of the process (user + system, all threads) per request, mean of the measured rounds", 2)
    {
        public override string GetValue(Summary summary, BenchmarkCase benchmarkCase)
        {
            var key = Key(benchmarkCase.Descriptor.WorkloadMethod.Name, (int)benchmarkCase.Parameters["Concurrency"]);
            return CpuPerRequest.TryGetValue(key, out var rounds) && rounds.Count > 0
                ? rounds.TakeLast(MeasuredRounds).Average(select).ToString("0 us", CultureInfo.InvariantCulture)
                : "-";
        }
    }

    /// <summary>The running stack and the two ways to send the same request into it.</summary>
    private sealed class Stack
    {
        private const int BodyVariants = 256;

        private readonly byte[][] _bodies;
        private int _nextBody;
        private readonly Uri _ingest;
        private readonly Uri _gateway;
        private readonly Uri? _throughNginx;
        private readonly string _apiKey;
        private readonly IdentityAssertionSigner _signer;
        private readonly CallerIdentity _caller;

        private readonly int _gatewayPid;
        private readonly int _ingestPid;
        private readonly ReferenceProxy? _nginx;

        private Stack(DistributedApplication app, DevInfo dev, ReferenceProxy? nginx)
        {
            _nginx = nginx;
            _gatewayPid = app.GetProcessId("gateway")!.Value;
            _ingestPid = app.GetProcessId("ingest")!.Value;
            _bodies = [.. Enumerable.Range(1, BodyVariants).Select(Body)];
            _ingest = new Uri(app.GetEndpoint("ingest"), IngestPath);
            _gateway = new Uri(app.GetEndpoint("gateway"), IngestPath);
            _throughNginx = nginx is null ? null : new Uri(nginx.Address, IngestPath);
            _apiKey = dev.ApiKey!;
            _signer = new IdentityAssertionSigner(
                Options.Create(new IdentityOptions { AssertionKey = app.GetEnvironment("ingest")["Identity__AssertionKey"] }), TimeProvider.System);
            // What the gateway asserts for the dev key: its project, its organization, its id.
            _caller = new CallerIdentity(CallerKind.ApiKey, Guid.NewGuid(), [Guid.Parse(dev.ProjectId!)], ApiKeyId: Guid.NewGuid());
            Console.WriteLine($"// gateway overhead: {_bodies[0].Length} bytes per request ({StandardBatch.SpanCount(Request(_bodies[0]))} GenAI spans), to {IngestPath}");
        }

        public HttpClient Http { get; } = new(new SocketsHttpHandler { MaxConnectionsPerServer = 64, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };

        /// <summary>Ingest took the spans: they are in Kafka.</summary>
        public static bool IsAnswerOfIngest(HttpStatusCode status) => status is HttpStatusCode.OK;

        public static async Task<Stack> StartAsync()
        {
            var (app, dev) = await BenchStack.StartAsync("gateway", model =>
            {
                model.Get<ProjectResource>("gateway")
                    .WithEnvironment("Gateway__RateLimit__ApiKey__PermitsPerSecond", "1000000")
                    .WithEnvironment("Gateway__RateLimit__ApiKey__Burst", "1000000");
                // Both paths are offered far more than the processor stores (16,000 requests/s of 41 spans): with
                // admission on, ingest would soon answer 503. What is measured is the HTTP path up to Kafka's
                // acknowledgement, so admission is off and the processor is stopped once the stack is up (it
                // would only compete for the 2 cores); the dev broker drops the oldest records beyond its
                // retention, which a benchmark can afford.
                model.Get<ProjectResource>("ingest").WithEnvironment("Ingest__Admission__Enabled", "false");
            });
            await app.StopResourceAsync("processor");
            var nginx = await ReferenceProxy.TryStartAsync(app.GetEndpoint("ingest"));
            if (nginx is null)
            {
                Console.WriteLine($"// no reference proxy: {ReferenceProxy.Missing}");
            }
            else
            {
                AppDomain.CurrentDomain.ProcessExit += (_, _) => nginx.Dispose();
            }

            var stack = new Stack(app, dev, nginx);
            await stack.WarmUpAsync(TimeSpan.FromSeconds(15));
            return stack;
        }

        /// <summary>
        /// Loads both paths before anything is measured: the services are fresh processes whose code the
        /// JIT is still compiling and recompiling (tiered compilation) for its first seconds of work.
        /// </summary>
        private async Task WarmUpAsync(TimeSpan duration)
        {
            var deadline = DateTime.UtcNow + duration;
            await Task.WhenAll(Enumerable.Range(0, 8).Select(async client =>
            {
                while (DateTime.UtcNow < deadline)
                {
                    using var message = (client % 3) switch
                    {
                        0 => Direct(),
                        1 => ThroughGateway(),
                        _ => _nginx is null ? Direct() : ThroughReferenceProxy(),
                    };
                    using var response = await Http.SendAsync(message);
                    await response.Content.LoadIntoBufferAsync();
                }
            }));
        }

        /// <summary>CPU time the proxy the benchmark goes through (none: the gateway, idle) and ingest have used so far.</summary>
        public (TimeSpan Proxy, TimeSpan Ingest) CpuTime(string benchmark)
        {
            var proxy = benchmark != nameof(ThroughReferenceProxy) ? ProcessCpu.Read(_gatewayPid)
                : _nginx is null ? TimeSpan.Zero
                : ProcessCpu.Read(_nginx.ProcessId);
            return (proxy, ProcessCpu.Read(_ingestPid));
        }

        public HttpRequestMessage Direct() => Asserted(_ingest);

        /// <summary>nginx passes the request on as it is, assertion included. Without nginx the case fails, saying so; the others run.</summary>
        public HttpRequestMessage ThroughReferenceProxy() => Asserted(_throughNginx ?? throw new InvalidOperationException(ReferenceProxy.Missing));

        private HttpRequestMessage Asserted(Uri uri)
        {
            var request = Post(uri);
            request.Headers.Add(IdentityAssertion.HeaderName, _signer.Sign(_caller));
            return request;
        }

        public HttpRequestMessage ThroughGateway()
        {
            var request = Post(_gateway);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _apiKey);
            return request;
        }

        private HttpRequestMessage Post(Uri uri)
        {
            // Requests take turns among bodies of different traces, so they spread over the topic's
            // partitions as real traffic does (one body would put every record in one partition).
            var body = _bodies[(uint)Interlocked.Increment(ref _nextBody) % BodyVariants];
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
            return new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
        }

        /// <summary>The standard GenAI batch, cut to the fewest spans that make at least 64 KiB; the seed picks its ids.</summary>
        private static byte[] Body(int seed)
        {
            for (var spans = 10; ; spans++)
            {
                var bytes = StandardBatch.GenAi(spans: spans, traces: 2, seed: seed).ToByteArray();
                if (bytes.Length >= 64 * 1024)
                {
                    return bytes;
                }
            }
        }

        private static OpenTelemetry.Proto.Collector.Trace.V1.ExportTraceServiceRequest Request(byte[] body)
            => OpenTelemetry.Proto.Collector.Trace.V1.ExportTraceServiceRequest.Parser.ParseFrom(body);
    }
}
