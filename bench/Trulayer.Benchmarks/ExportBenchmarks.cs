using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.AppHost.Run;
using Trulayer.Otlp.Json;
using Trulayer.ServiceDefaults.Identity;
using Trulayer.Workload;
using Trulayer.Workload.Load;

namespace Trulayer.Benchmarks;

/// <summary>
/// Export.Api's page: one <c>GET /v1/otlp/export</c> of <see cref="PageSpans"/> spans, from PostgreSQL to
/// the end of the response body as the client reads it, against the real service (Release) of a stack
/// started from the AppHost's graph. The spans were sent through the gateway and stored by the processor
/// (10,000 of the standard GenAI batch, 10,000 lean ones, in windows of their own). Each case restarts the
/// export service, warms it up on the case's own request for 8 seconds, then resets the process's peak resident size
/// (VmHWM, via /proc/&lt;pid&gt;/clear_refs), so the "export peak RSS" column is the most memory the service
/// held while it answered that case, and cases of 1,000 and 10,000 spans compare. The CPU column is what
/// the export process itself spent per page (user + system time from /proc, all threads), which, unlike
/// the time per page, does not move with what else the machine is doing.
/// <code>dotnet run -c Release --project bench/Trulayer.Benchmarks -- --filter '*ExportBenchmarks*'</code>
/// </summary>
[Config(typeof(Config))]
[MinColumn, MedianColumn] // on a shared machine the fastest iteration is the least disturbed one
public class ExportBenchmarks
{
    private const int StoredSpans = 10_000;
    // A fresh process compiles and recompiles its hot code (tiered compilation, dynamic PGO) during its first
    // seconds of work; the measured pages come after that, however small the page.
    private const int WarmupRequests = 10;
    private static readonly TimeSpan WarmupTime = TimeSpan.FromSeconds(8);
    private const int MeasuredIterations = 25;

    private static readonly Lazy<Task<Stack>> SharedStack = new(Stack.StartAsync);
    private static readonly ConcurrentDictionary<string, Memory> Memories = new();
    private static readonly ConcurrentDictionary<string, List<double>> CpuPerPage = new();

    private Stack _stack = null!;
    private string _query = "";
    private TimeSpan _cpuAtStart;

    [Params("GenAi", "Lean")]
    public string Batch { get; set; } = "GenAi";

    [Params(1_000, 10_000)]
    public int PageSpans { get; set; } = 10_000;

    [Params("json", "protobuf")]
    public string Format { get; set; } = "json";

    [GlobalSetup]
    public void Setup()
    {
        _stack = SharedStack.Value.GetAwaiter().GetResult();
        _query = $"{_stack.Window(Batch)}&limit={PageSpans}";
        _stack.RestartExportAsync().GetAwaiter().GetResult();
        var idle = _stack.ExportMemory();
        var warmup = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < WarmupRequests || warmup.Elapsed < WarmupTime; i++)
        {
            ExportPage().GetAwaiter().GetResult();
        }

        var spans = _stack.CountSpansAsync(_query, Format).GetAwaiter().GetResult();
        if (spans != PageSpans)
        {
            throw new InvalidOperationException($"the page held {spans} spans, {PageSpans} expected");
        }

        _stack.ResetExportPeak();
        Memories[Key(Batch, PageSpans, Format)] = new Memory(idle.ResidentBytes, 0, 0);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        var now = _stack.ExportMemory();
        var key = Key(Batch, PageSpans, Format);
        Memories[key] = Memories[key] with { Peak = now.PeakResidentBytes, AfterRss = now.ResidentBytes };
    }

    [IterationSetup]
    public void BeforePage() => _cpuAtStart = _stack.ExportCpu();

    [IterationCleanup]
    public void AfterPage() => CpuPerPage.GetOrAdd(Key(Batch, PageSpans, Format), _ => []).Add((_stack.ExportCpu() - _cpuAtStart).TotalMilliseconds);

    [Benchmark]
    public Task<long> ExportPage() => _stack.ExportAsync(_query, Format);

    private static string Key(string batch, int spans, string format) => $"{batch}/{spans}/{format}";

    private static string Key(BenchmarkCase c) => Key((string)c.Parameters["Batch"], (int)c.Parameters["PageSpans"], (string)c.Parameters["Format"]);

    /// <summary>Resident sizes of the export process in KiB: idle after its restart, peak during the measured requests, after them.</summary>
    private sealed record Memory(long IdleRss, long Peak, long AfterRss);

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            // In process: one stack shared by every case; the columns read what the cases recorded here.
            AddJob(Job.Default
                .WithToolchain(InProcessEmitToolchain.Instance)
                .WithStrategy(RunStrategy.Monitoring)
                .WithWarmupCount(3)
                .WithIterationCount(MeasuredIterations)
                .WithInvocationCount(1)
                .WithUnrollFactor(1));
            AddColumn(
                new SpansPerSecondColumn(),
                new CpuColumn(),
                new MemoryColumn("export idle RSS", m => m.IdleRss),
                new MemoryColumn("export peak RSS", m => m.Peak));
            AddColumnProvider(DefaultColumnProviders.Instance);
        }
    }

    private sealed class SpansPerSecondColumn() : CustomColumn("spans/s", "Spans exported per second: the page's spans over the mean time of one request")
    {
        public override string GetValue(Summary summary, BenchmarkCase benchmarkCase)
            => summary[benchmarkCase]?.ResultStatistics is { } statistics
                ? ((int)benchmarkCase.Parameters["PageSpans"] * 1e9 / statistics.Mean).ToString("N0", CultureInfo.InvariantCulture)
                : "-";
    }

    private sealed class CpuColumn() : CustomColumn("export CPU/page", "CPU time of the export process (user + system, all threads) per page, mean of the measured iterations", 1)
    {
        public override string GetValue(Summary summary, BenchmarkCase benchmarkCase)
        {
            if (!CpuPerPage.TryGetValue(Key(benchmarkCase), out var pages) || pages.Count == 0)
            {
                return "-";
            }

            // The last iterations are the measured ones (warm-up iterations come first); /proc counts in 10 ms
            // ticks, so only the mean over many pages is finer than that.
            return pages.TakeLast(MeasuredIterations).Average().ToString("0.0 ms", CultureInfo.InvariantCulture);
        }
    }

    private sealed class MemoryColumn(string name, Func<Memory, long> select) : CustomColumn(name, $"{name} of the export process (/proc/<pid>/status), for this case", 1)
    {
        public override string GetValue(Summary summary, BenchmarkCase benchmarkCase)
            => Memories.TryGetValue(Key(benchmarkCase), out var memory) ? (select(memory) / 1048576.0).ToString("0.0 MB", CultureInfo.InvariantCulture) : "-";
    }

    /// <summary>The running stack, the stored spans and the export request.</summary>
    private sealed class Stack
    {
        private readonly DistributedApplication _app;
        private readonly IdentityAssertionSigner _signer;
        private readonly CallerIdentity _caller;
        private readonly Dictionary<string, DateTimeOffset> _starts = new()
        {
            ["GenAi"] = DateTimeOffset.UtcNow.AddHours(-2),
            ["Lean"] = DateTimeOffset.UtcNow.AddHours(-1),
        };

        private Stack(DistributedApplication app, DevInfo dev)
        {
            _app = app;
            _signer = new IdentityAssertionSigner(
                Options.Create(new IdentityOptions { AssertionKey = app.GetEnvironment("export")["Identity__AssertionKey"] }), TimeProvider.System);
            _caller = new CallerIdentity(CallerKind.Session, Guid.NewGuid(), [Guid.Parse(dev.ProjectId!)], Roles.Viewer, "bench");
        }

        public HttpClient Http { get; } = new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None }) { Timeout = TimeSpan.FromSeconds(60) };

        private int ExportPid => _app.GetProcessId("export")!.Value;

        public static async Task<Stack> StartAsync()
        {
            var (app, dev) = await BenchStack.StartAsync("export");
            var stack = new Stack(app, dev);
            await stack.LoadAsync(dev);
            return stack;
        }

        /// <summary>Sends 10,000 spans of each batch through the gateway and waits until export sees them all.</summary>
        private async Task LoadAsync(DevInfo dev)
        {
            foreach (var (batch, start) in _starts)
            {
                for (var i = 0; i < StoredSpans / StandardBatch.DefaultSpans; i++)
                {
                    var request = batch == "GenAi"
                        ? StandardBatch.GenAi(start: start.AddMilliseconds(20 * i))
                        : StandardBatch.Lean(start: start.AddMilliseconds(20 * i));
                    using var content = new ByteArrayContent(request.ToByteArray());
                    content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
                    using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(_app.GetEndpoint("gateway"), "/v1/otlp/traces")) { Content = content };
                    message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", dev.ApiKey);
                    using var response = await Http.SendAsync(message);
                    response.EnsureSuccessStatusCode();
                }

                var deadline = DateTime.UtcNow.AddMinutes(2);
                while (await CountSpansAsync($"{Window(batch)}&limit={StoredSpans}", "json") < StoredSpans)
                {
                    if (DateTime.UtcNow > deadline)
                    {
                        throw new TimeoutException($"the processor did not store the {batch} spans");
                    }

                    await Task.Delay(200);
                }
            }
        }

        public string Window(string batch)
            => $"from={Uri.EscapeDataString(_starts[batch].AddMinutes(-1).ToString("O"))}&to={Uri.EscapeDataString(_starts[batch].AddMinutes(1).ToString("O"))}";

        /// <summary>One page, read to its end as a client streams it; returns its bytes.</summary>
        public async Task<long> ExportAsync(string query, string format)
        {
            using var message = Request(query, format);
            using var response = await Http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"export answered {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }

            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[64 * 1024];
            long total = 0;
            int read;
            while ((read = await body.ReadAsync(buffer)) > 0)
            {
                total += read;
            }

            return total;
        }

        public async Task<int> CountSpansAsync(string query, string format)
        {
            using var message = Request(query, format);
            using var response = await Http.SendAsync(message);
            var body = await response.Content.ReadAsByteArrayAsync();
            var data = format == "json" ? OtlpJson.ParseTracesData(body) : TracesData.Parser.ParseFrom(body);
            return data.ResourceSpans.SelectMany(r => r.ScopeSpans).Sum(s => s.Spans.Count);
        }

        private HttpRequestMessage Request(string query, string format)
        {
            var message = new HttpRequestMessage(HttpMethod.Get, new Uri(_app.GetEndpoint("export"), "/v1/otlp/export?" + query));
            message.Headers.Add(IdentityAssertion.HeaderName, _signer.Sign(_caller));
            message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(format == "json" ? "application/json" : "application/x-protobuf"));
            return message;
        }

        public Task RestartExportAsync() => _app.RestartResourceAsync("export");

        /// <summary>Makes the export process's peak resident size start again from its current size.</summary>
        public void ResetExportPeak() => File.WriteAllText($"/proc/{ExportPid}/clear_refs", "5");

        public TimeSpan ExportCpu() => ProcessCpu.Read(ExportPid);

        public ProcessMemory ExportMemory() => ProcessMemory.Read(ExportPid) ?? throw new InvalidOperationException("the export process is gone");
    }
}
