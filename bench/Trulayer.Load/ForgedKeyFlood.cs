using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;
using Trulayer.ServiceDefaults.Identity;
using Trulayer.Workload.Load;

namespace Trulayer.Load;

/// <summary>What the flood sends as credentials.</summary>
public enum ForgedKeyKind
{
    /// <summary><c>tl_</c> + 43 random base64url characters: what a key looked like before checksums.</summary>
    Random,

    /// <summary>Keys of the current format with a right checksum, which only Auth.Api can refuse.</summary>
    Checksummed,
}

/// <summary>What flood settings a run used.</summary>
public sealed record FloodSettings
{
    public int Connections { get; init; } = 16;

    /// <summary>Requests per second the flood offers over all its connections; 0: each connection sends as soon as it is answered.</summary>
    public double RequestsPerSecond { get; init; }
    public ForgedKeyKind Keys { get; init; } = ForgedKeyKind.Random;

    /// <summary>The local address the flood's connections come from (another loopback address: another client to the gateway).</summary>
    public IPAddress From { get; init; } = IPAddress.Parse("127.0.0.2");

    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Rounds of (baseline, flood), so that both see the same changes in the machine's other load.</summary>
    public int Cycles { get; init; } = 1;

    public TimeSpan Baseline { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan Flood { get; init; } = TimeSpan.FromSeconds(30);
    public double LegitimateRequestsPerSecond { get; init; } = 20;
    public int LegitimateSpansPerRequest { get; init; } = 100;
}

/// <summary>One phase: the legitimate client's latency and answers, the flood's answers, and what the stack's processes spent.</summary>
public sealed record FloodPhaseReport(
    string Name,
    double Seconds,
    LatencyReport Legitimate,
    IReadOnlyDictionary<string, long> LegitimateStatuses,
    long FloodAnswers,
    double FloodAnswersPerSecond,
    IReadOnlyDictionary<string, long> FloodStatuses,
    IReadOnlyList<string> FloodMessages,
    IReadOnlyDictionary<string, double> CpuCores,
    string LoadAverage);

public sealed record FloodReport(string Machine, DateTimeOffset StartedAt, string Gateway, FloodSettings Settings, IReadOnlyList<FloodPhaseReport> Phases)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(), new IPAddressConverter() },
    };

    public void Write(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, JsonSerializer.Serialize(this, Json));
    }

    public void Print(IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("Trulayer load: forged-key flood").AddColumn("");
        foreach (var phase in Phases)
        {
            table.AddColumn(new TableColumn(Markup.Escape(phase.Name)).RightAligned());
        }

        Row(table, "legitimate requests", p => $"{p.Legitimate.Count:N0}");
        Row(table, "legitimate p50 ms", p => $"{p.Legitimate.P50:0.0}");
        Row(table, "legitimate p95 ms", p => $"{p.Legitimate.P95:0.0}");
        Row(table, "legitimate p99 ms", p => $"{p.Legitimate.P99:0.0}");
        Row(table, "legitimate answers", p => string.Join(" ", p.LegitimateStatuses.Select(s => $"{s.Key}×{s.Value}")));
        Row(table, "flood answers/s", p => $"{p.FloodAnswersPerSecond:N0}");
        Row(table, "flood answers", p => string.Join(" ", p.FloodStatuses.Select(s => $"{s.Key}×{s.Value}")));
        foreach (var name in Phases.SelectMany(p => p.CpuCores.Keys).Distinct().Order(StringComparer.Ordinal))
        {
            Row(table, $"{name} CPU (cores)", p => p.CpuCores.TryGetValue(name, out var cores) ? $"{cores:0.00}" : "-");
        }

        Row(table, "server CPU per flood answer µs", p => ServerMicrosPerFloodAnswer(p) is { } micros ? $"{micros:0}" : "-");
        Row(table, "load average", p => p.LoadAverage);
        console.Write(table);
    }

    /// <summary>What the measured processes spent over the baseline, per answer to the flood.</summary>
    public double? ServerMicrosPerFloodAnswer(FloodPhaseReport phase)
    {
        var baseline = Phases.FirstOrDefault(p => p.FloodAnswers == 0);
        if (baseline is null || phase.FloodAnswersPerSecond <= 0)
        {
            return null;
        }

        return (phase.CpuCores.Values.Sum() - baseline.CpuCores.Values.Sum()) / phase.FloodAnswersPerSecond * 1e6;
    }

    private void Row(Table table, string label, Func<FloodPhaseReport, string> value)
        => table.AddRow([Markup.Escape(label), .. Phases.Select(p => Markup.Escape(value(p)))]);

    private sealed class IPAddressConverter : JsonConverter<IPAddress>
    {
        public override IPAddress Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => IPAddress.Parse(reader.GetString()!);

        public override void Write(Utf8JsonWriter writer, IPAddress value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
    }
}

/// <summary>
/// Issue 13's attack, measured: one client floods the gateway with made-up <c>tl_</c> keys over many
/// connections (from a loopback address of its own, so the gateway sees another client; flat out, or at a
/// fixed rate so that the attacker's own CPU is the same whatever the server does), while one
/// legitimate client sends OTLP batches at a steady rate with a real key. After a warm-up (the
/// legitimate client alone, not reported), slices of baseline (alone) and flood (both) alternate for a
/// number of cycles, so both conditions meet the same changes in what else the machine is doing; per
/// condition, the legitimate client's latency, the flood's answers, and the CPU that Auth.Api, the
/// gateway and PostgreSQL spent (from /proc, in cores: CPU seconds per second).
/// </summary>
internal sealed class ForgedKeyFlood(LoadTarget target, FloodSettings settings, IAnsiConsole console)
{
    private static readonly string[] Measured = ["auth", "gateway", "postgres"];

    public async Task<FloodReport> RunAsync(CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var pids = new StackProcesses(target).Find();
        var legitimate = new LoadSettings
        {
            Senders = 1,
            Batch = BatchKind.GenAi,
            SpansPerRequest = settings.LegitimateSpansPerRequest,
            TracesPerRequest = Math.Max(1, settings.LegitimateSpansPerRequest / 100),
            SpansPerSecond = settings.LegitimateRequestsPerSecond * settings.LegitimateSpansPerRequest,
            Duration = settings.WarmUp + (settings.Baseline + settings.Flood) * settings.Cycles + TimeSpan.FromSeconds(5),
        };
        using var driver = new LoadDriver(target, legitimate);
        Condition? measuring = null;
        driver.Attempted += (_, attempt) => measuring?.Counters.Legitimate(attempt);
        var sending = driver.RunAsync(cancellationToken);

        console.MarkupLine($"warm-up: the legitimate client alone for {settings.WarmUp.TotalSeconds:0} s");
        await Task.Delay(settings.WarmUp, cancellationToken);

        var rate = settings.RequestsPerSecond > 0 ? $"{settings.RequestsPerSecond:0} requests/s" : "flat out";
        console.MarkupLine(
            $"{settings.Cycles} × ({settings.Baseline.TotalSeconds:0} s of the legitimate client alone, then {settings.Flood.TotalSeconds:0} s beside a flood of " +
            $"{settings.Connections} connections of {settings.Keys} keys from {settings.From}, {rate})");
        using var flood = new FloodClient(target.Gateway, settings);
        var baseline = new Condition("baseline");
        var flooded = new Condition("flood");
        for (var cycle = 0; cycle < settings.Cycles; cycle++)
        {
            await SliceAsync(baseline, settings.Baseline, null);
            await SliceAsync(flooded, settings.Flood, flood);
        }

        measuring = null;
        await sending;
        return new FloodReport(
            $"{Environment.MachineName} ({Environment.ProcessorCount} cores)", started, target.Gateway.ToString(), settings, [baseline.Report(), flooded.Report()]);

        async Task SliceAsync(Condition condition, TimeSpan duration, FloodClient? floodClient)
        {
            var before = ReadCpu(pids);
            var clock = Stopwatch.StartNew();
            measuring = condition;
            if (floodClient is not null)
            {
                await floodClient.RunAsync(duration, condition.Counters, cancellationToken);
            }
            else
            {
                await Task.Delay(duration, cancellationToken);
            }

            measuring = null;
            condition.Add(clock.Elapsed, before, ReadCpu(pids));
        }
    }

    /// <summary>One condition (alone, or beside the flood) over all its slices.</summary>
    private sealed class Condition(string name)
    {
        private readonly Dictionary<string, TimeSpan> _cpu = new(StringComparer.Ordinal);
        private TimeSpan _elapsed;
        private string _loadAverage = "";

        public PhaseCounters Counters { get; } = new();

        public void Add(TimeSpan elapsed, Dictionary<string, TimeSpan> before, Dictionary<string, TimeSpan> after)
        {
            _elapsed += elapsed;
            foreach (var (process, spent) in after)
            {
                _cpu[process] = _cpu.GetValueOrDefault(process) + spent - before.GetValueOrDefault(process);
            }

            _loadAverage = File.ReadAllText("/proc/loadavg").Trim();
        }

        public FloodPhaseReport Report()
        {
            var seconds = _elapsed.TotalSeconds;
            var answers = Counters.FloodStatuses.Values.Sum();
            return new FloodPhaseReport(
                name,
                Math.Round(seconds, 1),
                LatencyReport.From(Counters.Latency.Snapshot()),
                Counters.LegitimateStatuses.OrderBy(s => s.Key, StringComparer.Ordinal).ToDictionary(s => s.Key, s => s.Value, StringComparer.Ordinal),
                answers,
                Math.Round(answers / seconds, 0),
                Counters.FloodStatuses.OrderBy(s => s.Key, StringComparer.Ordinal).ToDictionary(s => s.Key, s => s.Value, StringComparer.Ordinal),
                [.. Counters.FloodMessages.Keys.Order(StringComparer.Ordinal)],
                Measured.Where(_cpu.ContainsKey).ToDictionary(n => n, n => Math.Round(_cpu[n].TotalSeconds / seconds, 3), StringComparer.Ordinal),
                _loadAverage);
        }
    }

    /// <summary>CPU time so far of each measured process; PostgreSQL's is its server's and all its backends', live or gone.</summary>
    private static Dictionary<string, TimeSpan> ReadCpu(IReadOnlyDictionary<string, int> pids)
    {
        var cpu = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
        foreach (var name in Measured)
        {
            if (!pids.TryGetValue(name, out var pid))
            {
                continue;
            }

            // PostgreSQL: the server with the backends that exited, and the live backends.
            cpu[name] = name == "postgres"
                ? ProcessCpu.ReadWithExitedChildren(pid) + ProcessMemory.ChildrenByParent()[pid].Aggregate(TimeSpan.Zero, (sum, child) => sum + TryRead(child))
                : ProcessCpu.Read(pid);
        }

        return cpu;
    }

    private static TimeSpan TryRead(int pid)
    {
        try
        {
            return ProcessCpu.Read(pid);
        }
        catch (IOException)
        {
            return TimeSpan.Zero; // a backend that just exited
        }
    }

    /// <summary>What one phase saw, filled by the legitimate client's attempts and the flood's answers.</summary>
    private sealed class PhaseCounters
    {
        public LatencyHistogram Latency { get; } = new();
        public ConcurrentDictionary<string, long> LegitimateStatuses { get; } = new(StringComparer.Ordinal);
        public ConcurrentDictionary<string, long> FloodStatuses { get; } = new(StringComparer.Ordinal);
        public ConcurrentDictionary<string, byte> FloodMessages { get; } = new(StringComparer.Ordinal);

        public void Legitimate(ExportAttempt attempt)
        {
            LegitimateStatuses.AddOrUpdate(attempt.Status, 1, (_, n) => n + 1);
            if (attempt.Outcome == AttemptOutcome.Accepted)
            {
                Latency.Record(attempt.Latency);
            }
        }

        public void Flood(int status, string? message)
        {
            FloodStatuses.AddOrUpdate(status.ToString(CultureInfo.InvariantCulture), 1, (_, n) => n + 1);
            if (message is not null && FloodMessages.Count < 8)
            {
                FloodMessages.TryAdd($"{status}: {message}", 0);
            }
        }
    }

    /// <summary>The attacker: connections from their own address, each sending an empty OTLP request with a new made-up key as soon as the last is answered.</summary>
    private sealed class FloodClient : IDisposable
    {
        private const string Base64UrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        private readonly HttpClient _http;
        private readonly Uri _uri;
        private readonly FloodSettings _settings;
        private readonly RatePacer _pacer;

        public FloodClient(Uri gateway, FloodSettings settings)
        {
            _settings = settings;
            _pacer = new RatePacer(settings.RequestsPerSecond);
            _uri = new Uri(gateway, LoadTarget.TracesPath);
            _http = new HttpClient(new SocketsHttpHandler
            {
                MaxConnectionsPerServer = settings.Connections,
                UseProxy = false,
                UseCookies = false,
                ConnectCallback = async (context, cancellationToken) =>
                {
                    var socket = new Socket(settings.From.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    try
                    {
                        socket.Bind(new IPEndPoint(settings.From, 0));
                        await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                },
            })
            {
                Timeout = TimeSpan.FromSeconds(30),
            };
        }

        public async Task RunAsync(TimeSpan duration, PhaseCounters counters, CancellationToken cancellationToken)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            stop.CancelAfter(duration);
            await Task.WhenAll(Enumerable.Range(0, _settings.Connections).Select(_ => Task.Run(() => SendLoopAsync(counters, stop.Token), CancellationToken.None)));
        }

        private async Task SendLoopAsync(PhaseCounters counters, CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await _pacer.WaitAsync(stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                using var request = new HttpRequestMessage(HttpMethod.Post, _uri) { Content = new ByteArrayContent([]) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", NewKey());
                try
                {
                    using var response = await _http.SendAsync(request, stop);
                    var body = await response.Content.ReadAsByteArrayAsync(stop);
                    counters.Flood((int)response.StatusCode, Message(body));
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (HttpRequestException ex)
                {
                    counters.Flood(0, ex.Message);
                }
            }
        }

        private string NewKey() => _settings.Keys == ForgedKeyKind.Checksummed
            ? ApiKeyFormat.Generate()
            : "tl_" + RandomNumberGenerator.GetString(Base64UrlAlphabet, 43);

        /// <summary>The google.rpc.Status message of a refusal, with the variable parts (addresses, seconds) as they come.</summary>
        private static string? Message(byte[] body)
        {
            try
            {
                return body.Length == 0 ? null : Google.Rpc.Status.Parser.ParseFrom(body).Message;
            }
            catch (Google.Protobuf.InvalidProtocolBufferException)
            {
                return null;
            }
        }

        public void Dispose() => _http.Dispose();
    }
}
