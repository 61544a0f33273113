using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Trulayer.AppHost.Run;
using Trulayer.Load.Seed;
using Trulayer.ServiceDefaults.Kafka;
using Trulayer.Workload.Load;

namespace Trulayer.Load;

/// <summary>The CLI: <c>run</c> (one phase) and <c>profile</c> (the README's figures: end to end, then latency at 50% and 90% of it).</summary>
internal static class LoadCommands
{
    private static readonly Option<string> StateDirectory = new("--state-dir")
    {
        Description = "The stack's state folder, whose dev.json says where the gateway, PostgreSQL and Kafka are and holds the dev API key",
        DefaultValueFactory = _ => ".trulayer",
    };

    private static readonly Option<string?> Gateway = new("--gateway") { Description = "The gateway's HTTP address (default: dev.json's gateway)" };
    private static readonly Option<string?> Grpc = new("--grpc") { Description = "The gateway's OTLP/gRPC address (default: dev.json's otlpGrpc)" };
    private static readonly Option<string?> ApiKey = new("--api-key") { Description = "The API key to send with (default: dev.json's apiKey)" };
    private static readonly Option<string?> Project = new("--project") { Description = "The API key's project id, where the run's spans are counted (default: dev.json's projectId)" };
    private static readonly Option<string?> Postgres = new("--postgres") { Description = "PostgreSQL's connection string, to count what was stored (default: dev.json's postgres)" };
    private static readonly Option<string?> Kafka = new("--kafka") { Description = "Kafka's bootstrap servers, to read the processor's lag (default: dev.json's kafka)" };
    private static readonly Option<string> Topic = new("--topic") { Description = "The spans topic", DefaultValueFactory = _ => KafkaTopics.Spans };
    private static readonly Option<string> Group = new("--group") { Description = "The processor's consumer group", DefaultValueFactory = _ => "trulayer-processor" };

    private static readonly Option<string> Transport = new Option<string>("--transport")
    {
        Description = "OTLP/HTTP protobuf, OTLP/HTTP JSON, or OTLP/gRPC",
        DefaultValueFactory = _ => "http-protobuf",
    }.AcceptOnlyFromAmong("http-protobuf", "http-json", "grpc");

    private static readonly Option<string> Batch = new Option<string>("--batch")
    {
        Description = "The standard batch each request carries (DESIGN.md): genai (~30 attributes, an LLM span in three with a 2 KiB prompt) or lean (8 attributes)",
        DefaultValueFactory = _ => "genai",
    }.AcceptOnlyFromAmong("genai", "lean");

    private static readonly Option<string> Signal = new Option<string>("--signal")
    {
        Description = "What each request carries: traces (spans), logs (log records of the standard logs batch, to /v1/otlp/v1/logs) " +
                      "or mixed (spans, then the GenAI log events gen_ai.user.message and gen_ai.choice of their LLM spans)",
        DefaultValueFactory = _ => "traces",
    }.AcceptOnlyFromAmong("traces", "logs", "mixed");
    private static readonly Option<int> SpansPerRequest = new("--spans-per-request") { Description = "Spans per request (10 traces each)", DefaultValueFactory = _ => 1000 };
    private static readonly Option<int> Senders = new("--senders", "-c") { Description = "Requests in flight at once", DefaultValueFactory = _ => 8 };
    private static readonly Option<double> Rate = new("--rate", "-r") { Description = "Target spans per second; 0 sends flat out", DefaultValueFactory = _ => 0 };
    private static readonly Option<double> Duration = new("--duration", "-d") { Description = "Seconds to send for", DefaultValueFactory = _ => 60 };
    private static readonly Option<long?> Spans = new("--spans", "-n") { Description = "Stop after this many spans (whichever comes first with --duration)" };
    private static readonly Option<double> RequestTimeout = new("--request-timeout") { Description = "Seconds one attempt may take before it is retried", DefaultValueFactory = _ => 30 };
    private static readonly Option<double> GiveUpAfter = new("--give-up-after") { Description = "Seconds after which a request still not acknowledged is abandoned", DefaultValueFactory = _ => 180 };
    private static readonly Option<double> DrainTimeout = new("--drain-timeout") { Description = "Seconds to wait for the processor to store everything Kafka holds", DefaultValueFactory = _ => 300 };
    private static readonly Option<int> RawCopyRows = new("--raw-copy-rows") { Description = "Rows per round of the raw COPY ceiling; 0 skips it", DefaultValueFactory = _ => 30_000 };
    private static readonly Option<int> RawCopyRounds = new("--raw-copy-rounds") { Description = "Rounds of the raw COPY ceiling (the median counts)", DefaultValueFactory = _ => 3 };
    private static readonly Option<bool> MeasureMemory = new("--measure-memory")
    {
        Description = "Also read the stack's memory (proportional set size of every process) --idle-seconds after each phase's load ends, " +
                      "beside the readings before and during it",
    };

    private static readonly Option<double> IdleSeconds = new("--idle-seconds")
    {
        Description = "With --measure-memory: seconds after the load ends at which the idle memory is read",
        DefaultValueFactory = _ => 60,
    };

    private static readonly Option<string?> Report = new("--report", "-o") { Description = "Where to write the JSON report (default: artifacts/load/<command>-<time>.json)" };

    private static readonly Option<double> WarmUp = new("--warmup") { Description = "Seconds to send before measuring (not counted)", DefaultValueFactory = _ => 10 };
    private static readonly Option<double> LatencyDuration = new("--latency-duration") { Description = "Seconds of each latency phase (50% and 90% of the end-to-end rate)", DefaultValueFactory = _ => 30 };
    private static readonly Option<string[]> Batches = new("--batches")
    {
        Description = "The batches to profile",
        DefaultValueFactory = _ => ["genai", "lean"],
        AllowMultipleArgumentsPerToken = true,
    };

    private static readonly Option<int> FloodConnections = new("--connections") { Description = "Connections the flood sends over, each a request at a time", DefaultValueFactory = _ => 16 };
    private static readonly Option<double> FloodRate = new("--flood-rate") { Description = "Requests per second of the flood over all its connections; 0: flat out, each connection sending as soon as it is answered", DefaultValueFactory = _ => 0 };
    private static readonly Option<string> FloodKeys = new Option<string>("--keys")
    {
        Description = "random: tl_ + 43 random base64url characters (a key as made before checksums); checksummed: current keys with a right checksum, which only Auth.Api can refuse",
        DefaultValueFactory = _ => "random",
    }.AcceptOnlyFromAmong("random", "checksummed");
    private static readonly Option<string> FloodFrom = new("--from") { Description = "The local address the flood's connections come from (another loopback address is another client)", DefaultValueFactory = _ => "127.0.0.2" };
    private static readonly Option<int> FloodCycles = new("--cycles") { Description = "Rounds of (baseline, flood): slices that alternate, so both meet the same changes in the machine's other load", DefaultValueFactory = _ => 1 };
    private static readonly Option<double> BaselineDuration = new("--baseline") { Description = "Seconds of the legitimate client alone (per cycle; --duration is the flood's)", DefaultValueFactory = _ => 30 };
    private static readonly Option<double> LegitimateRate = new("--legit-rate") { Description = "Requests per second of the legitimate client (GenAI batches)", DefaultValueFactory = _ => 20 };
    private static readonly Option<int> LegitimateSpans = new("--legit-spans") { Description = "Spans per request of the legitimate client", DefaultValueFactory = _ => 100 };

    private static readonly Option<long> SeedSpans = new("--spans", "-n") { Description = "Spans to write", DefaultValueFactory = _ => 10_000_000 };
    private static readonly Option<double> SeedDays = new("--days") { Description = "Days back from now the spans are spread over", DefaultValueFactory = _ => 30 };
    private static readonly Option<int> SeedValue = new("--seed") { Description = "Seed of the generator (the same seed writes the same traces)", DefaultValueFactory = _ => 16 };
    private static readonly Option<long> SeedMaxLag = new("--max-lag")
    {
        Description = "Most records the processor may have to catch up on before producing pauses (the dev broker drops the oldest past 5 MiB a partition)",
        DefaultValueFactory = _ => 4000,
    };

    private static readonly Option<int> BenchWarm = new("--warm") { Description = "Unmeasured runs of each query first", DefaultValueFactory = _ => 3 };
    private static readonly Option<int> BenchRuns = new("--runs") { Description = "Measured runs of each query", DefaultValueFactory = _ => 20 };
    private static readonly Option<string> BenchRole = new("--role") { Description = "The dev session (dev.json's sessions) the queries are sent with", DefaultValueFactory = _ => "viewer" };

    public static RootCommand Create()
    {
        var root = new RootCommand("Trulayer load: drives a running stack through the gateway, then counts what it stored.");
        var run = new Command("run", "One phase: send at a rate (or flat out) for a while, drain, count lost and duplicated spans, measure the raw COPY ceiling");
        AddOptions(run, [StateDirectory, Gateway, Grpc, ApiKey, Project, Postgres, Kafka, Topic, Group, Transport, Batch, Signal, SpansPerRequest, Senders, Rate,
            Duration, Spans, WarmUp, RequestTimeout, GiveUpAfter, DrainTimeout, RawCopyRows, RawCopyRounds, MeasureMemory, IdleSeconds, Report]);
        run.SetAction((parse, cancellationToken) => RunAsync(parse, cancellationToken));
        root.Subcommands.Add(run);

        var profile = new Command("profile", "The README's figures: per batch, end to end flat out (with the raw COPY ceiling), then ingest latency at 50% and 90% of that rate");
        AddOptions(profile, [StateDirectory, Gateway, Grpc, ApiKey, Project, Postgres, Kafka, Topic, Group, Transport, Batches, Signal, SpansPerRequest, Senders,
            Duration, LatencyDuration, WarmUp, RequestTimeout, GiveUpAfter, DrainTimeout, RawCopyRows, RawCopyRounds, MeasureMemory, IdleSeconds, Report]);
        profile.SetAction((parse, cancellationToken) => ProfileAsync(parse, cancellationToken));
        root.Subcommands.Add(profile);

        var flood = new Command("flood", "Issue 13's attack: a flood of made-up tl_ keys from one address beside a legitimate client; its latency and Auth.Api's CPU, alone and under the flood");
        AddOptions(flood, [StateDirectory, Gateway, Grpc, ApiKey, Project, Postgres, Kafka, FloodConnections, FloodRate, FloodKeys, FloodFrom, WarmUp, FloodCycles, BaselineDuration, Duration,
            LegitimateRate, LegitimateSpans, Report]);
        flood.SetAction((parse, cancellationToken) => FloodAsync(parse, cancellationToken));
        root.Subcommands.Add(flood);

        var seed = new Command("seed", "Issue 16's data: --spans spans over the last --days days the way production looks (sessions, a thousand users, a dozen models), through Kafka and the processor");
        AddOptions(seed, [StateDirectory, Project, Kafka, Topic, Group, SeedSpans, SeedDays, SeedValue, SeedMaxLag, Report]);
        seed.SetAction((parse, cancellationToken) => SeedAsync(parse, cancellationToken));
        root.Subcommands.Add(seed);

        var query = new Command("query", "Issue 16's query benchmark: the trace list, sessions, analytics and span search over the seeded window, warm, p95 per query");
        AddOptions(query, [StateDirectory, Gateway, Project, SeedDays, BenchWarm, BenchRuns, BenchRole, Report]);
        query.SetAction((parse, cancellationToken) => QueryAsync(parse, cancellationToken));
        root.Subcommands.Add(query);
        return root;
    }

    private static void AddOptions(Command command, Option[] options)
    {
        foreach (var option in options)
        {
            command.Options.Add(option);
        }
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        if (!TryTarget(parse, out var target))
        {
            return 2;
        }

        var settings = Settings(parse, parse.GetValue(Batch)!) with
        {
            SpansPerSecond = parse.GetValue(Rate) is > 0 and var rate ? rate : null,
            Duration = TimeSpan.FromSeconds(parse.GetValue(Duration)),
            MaxSpans = parse.GetValue(Spans),
        };
        var session = new LoadSession(target, AnsiConsole.Console);
        await session.WarmUpAsync(settings, TimeSpan.FromSeconds(parse.GetValue(WarmUp)), cancellationToken);
        var phase = await session.RunPhaseAsync($"{parse.GetValue(Batch)} {parse.GetValue(Transport)}", settings, PhaseOptions(parse), cancellationToken);
        return Finish(parse, "run", [phase]);
    }

    private static async Task<int> ProfileAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        if (!TryTarget(parse, out var target))
        {
            return 2;
        }

        var session = new LoadSession(target, AnsiConsole.Console);
        var phases = new List<PhaseReport>();
        var options = PhaseOptions(parse);
        foreach (var batch in parse.GetValue(Batches)!)
        {
            var settings = Settings(parse, batch);
            await session.WarmUpAsync(settings, TimeSpan.FromSeconds(parse.GetValue(WarmUp)), cancellationToken);
            var endToEnd = await session.RunPhaseAsync($"{batch} e2e", settings with { Duration = TimeSpan.FromSeconds(parse.GetValue(Duration)) }, options, cancellationToken);
            phases.Add(endToEnd);
            if (endToEnd.EndToEndSpansPerSecond is not { } rate || cancellationToken.IsCancellationRequested)
            {
                AnsiConsole.MarkupLine($"[red]{Markup.Escape(batch)}: no end-to-end rate (the pipeline did not drain or PostgreSQL is unknown); skipping its latency phases[/]");
                continue;
            }

            foreach (var share in new[] { 0.5, 0.9 })
            {
                var paced = settings with { SpansPerSecond = rate * share, Duration = TimeSpan.FromSeconds(parse.GetValue(LatencyDuration)) };
                phases.Add(await session.RunPhaseAsync($"{batch} {share:P0}", paced, options with { RawCopyRows = 0 }, cancellationToken));
            }
        }

        return Finish(parse, "profile", phases);
    }

    private static async Task<int> FloodAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        if (!TryTarget(parse, out var target))
        {
            return 2;
        }

        var settings = new FloodSettings
        {
            Connections = parse.GetValue(FloodConnections),
            RequestsPerSecond = parse.GetValue(FloodRate),
            Keys = parse.GetValue(FloodKeys) == "checksummed" ? ForgedKeyKind.Checksummed : ForgedKeyKind.Random,
            From = System.Net.IPAddress.Parse(parse.GetValue(FloodFrom)!),
            WarmUp = TimeSpan.FromSeconds(parse.GetValue(WarmUp)),
            Cycles = Math.Max(1, parse.GetValue(FloodCycles)),
            Baseline = TimeSpan.FromSeconds(parse.GetValue(BaselineDuration)),
            Flood = TimeSpan.FromSeconds(parse.GetValue(Duration)),
            LegitimateRequestsPerSecond = parse.GetValue(LegitimateRate),
            LegitimateSpansPerRequest = parse.GetValue(LegitimateSpans),
        };
        var report = await new ForgedKeyFlood(target, settings, AnsiConsole.Console).RunAsync(cancellationToken);
        var path = parse.GetValue(Report) ?? Path.Combine("artifacts", "load", $"flood-{DateTime.UtcNow:yyyyMMdd-HHmmss}.json");
        report.Write(path);
        report.Print(AnsiConsole.Console);
        AnsiConsole.MarkupLine($"report: [bold]{Markup.Escape(Path.GetFullPath(path))}[/]");
        return 0;
    }

    private static async Task<int> SeedAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var dev = DevInfo.Read(parse.GetValue(StateDirectory)!) ?? new DevInfo();
        if ((parse.GetValue(Kafka) ?? dev.Kafka) is not { } kafka || !Guid.TryParse(parse.GetValue(Project) ?? dev.ProjectId, out var project))
        {
            AnsiConsole.MarkupLine("[red]trulayer-load seed: no Kafka or project: start a stack with ./run.sh, or pass --kafka and --project[/]");
            return 2;
        }

        var settings = new SeedSettings(parse.GetValue(SeedSpans), parse.GetValue(SeedDays), project, kafka, parse.GetValue(Topic)!, parse.GetValue(Group)!,
            parse.GetValue(SeedValue), parse.GetValue(SeedMaxLag));
        var (spans, records, took) = await new SeedRun(settings, AnsiConsole.Console).RunAsync(cancellationToken);
        var report = new
        {
            machine = $"{Environment.MachineName} ({Environment.ProcessorCount} cores, load average {LoadAverage()})",
            at = DateTimeOffset.UtcNow,
            spans,
            traces = records,
            days = settings.Days,
            project,
            seconds = Math.Round(took.TotalSeconds, 1),
            spansPerSecond = Math.Round(spans / took.TotalSeconds),
        };
        WriteJson(parse, "seed", report);
        AnsiConsole.MarkupLine($"seeded {spans:N0} spans in {records:N0} traces over {settings.Days} days in {took.TotalSeconds:N0} s ({spans / took.TotalSeconds:N0} spans/s), all stored");
        return 0;
    }

    private static async Task<int> QueryAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var dev = DevInfo.Read(parse.GetValue(StateDirectory)!) ?? new DevInfo();
        var role = parse.GetValue(BenchRole)!;
        if ((parse.GetValue(Gateway) ?? dev.Gateway) is not { } gateway || dev.Sessions?.GetValueOrDefault(role) is not { } session
            || !Guid.TryParse(parse.GetValue(Project) ?? dev.ProjectId, out var project))
        {
            AnsiConsole.MarkupLine($"[red]trulayer-load query: no gateway, {Markup.Escape(role)} session or project in dev.json: start a stack with ./run.sh[/]");
            return 2;
        }

        var load = LoadAverage();
        var queries = QueryBench.Queries(project, parse.GetValue(SeedDays), DateTimeOffset.UtcNow);
        var results = await new QueryBench(new Uri(gateway), session, AnsiConsole.Console).RunAsync(queries, parse.GetValue(BenchWarm), parse.GetValue(BenchRuns), cancellationToken);
        WriteJson(parse, "query", new
        {
            machine = $"{Environment.MachineName} ({Environment.ProcessorCount} cores, load average {load} before, {LoadAverage()} after)",
            at = DateTimeOffset.UtcNow,
            project,
            results,
        });
        return 0;
    }

    private static void WriteJson(ParseResult parse, string command, object report)
    {
        var path = parse.GetValue(Report) ?? Path.Combine("artifacts", "load", $"{command}-{DateTime.UtcNow:yyyyMMdd-HHmmss}.json");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(report, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        AnsiConsole.MarkupLine($"report: [bold]{Markup.Escape(Path.GetFullPath(path))}[/]");
    }

    private static int Finish(ParseResult parse, string command, IReadOnlyList<PhaseReport> phases)
    {
        var report = new LoadReport(Environment.MachineName + $" ({Environment.ProcessorCount} cores, load average {LoadAverage()})", DateTimeOffset.UtcNow, phases);
        var path = parse.GetValue(Report) ?? Path.Combine("artifacts", "load", $"{command}-{DateTime.UtcNow:yyyyMMdd-HHmmss}.json");
        report.Write(path);
        report.Print(AnsiConsole.Console);
        AnsiConsole.MarkupLine($"report: [bold]{Markup.Escape(Path.GetFullPath(path))}[/]");
        var clean = phases.All(p => p.Clean);
        if (!clean)
        {
            AnsiConsole.MarkupLine("[red]not every acknowledged span is stored exactly once (or the pipeline did not drain): see lost and duplicated[/]");
        }

        return clean ? 0 : 1;
    }

    private static LoadSettings Settings(ParseResult parse, string batch) => new()
    {
        Transport = parse.GetValue(Transport) switch
        {
            "http-json" => LoadTransport.HttpJson,
            "grpc" => LoadTransport.Grpc,
            _ => LoadTransport.HttpProtobuf,
        },
        Batch = batch == "lean" ? BatchKind.Lean : BatchKind.GenAi,
        Signal = parse.GetValue(Signal) switch
        {
            "logs" => LoadSignal.Logs,
            "mixed" => LoadSignal.Mixed,
            _ => LoadSignal.Traces,
        },
        SpansPerRequest = parse.GetValue(SpansPerRequest),
        Senders = parse.GetValue(Senders),
        RequestTimeout = TimeSpan.FromSeconds(parse.GetValue(RequestTimeout)),
        Retry = new RetryPolicy { GiveUpAfter = TimeSpan.FromSeconds(parse.GetValue(GiveUpAfter)) },
    };

    private static PhaseOptions PhaseOptions(ParseResult parse) => new(
        TimeSpan.FromSeconds(parse.GetValue(DrainTimeout)),
        parse.GetValue(RawCopyRows),
        Math.Max(1, parse.GetValue(RawCopyRounds)),
        parse.GetValue(Topic)!,
        parse.GetValue(Group)!,
        parse.GetValue(MeasureMemory) ? TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(IdleSeconds))) : null);

    private static bool TryTarget(ParseResult parse, out LoadTarget target)
    {
        target = null!;
        var stateDirectory = parse.GetValue(StateDirectory)!;
        var dev = DevInfo.Read(stateDirectory) ?? new DevInfo();
        var gateway = parse.GetValue(Gateway) ?? dev.Gateway;
        var grpc = parse.GetValue(Grpc) ?? dev.OtlpGrpc;
        var apiKey = parse.GetValue(ApiKey) ?? dev.ApiKey;
        var project = parse.GetValue(Project) ?? dev.ProjectId;
        if (gateway is null || grpc is null || apiKey is null || !Guid.TryParse(project, out var projectId))
        {
            AnsiConsole.MarkupLine(
                $"[red]trulayer-load: no stack to drive: {Markup.Escape(Path.Combine(stateDirectory, DevInfo.FileName))} is missing or incomplete " +
                "(start one with ./run.sh), or pass --gateway, --grpc, --api-key and --project[/]");
            return false;
        }

        target = new LoadTarget(new Uri(gateway), new Uri(grpc), apiKey, projectId, parse.GetValue(Postgres) ?? dev.Postgres, parse.GetValue(Kafka) ?? dev.Kafka);
        if (target.Postgres is null)
        {
            AnsiConsole.MarkupLine("[yellow]no PostgreSQL connection string: lost and duplicated spans cannot be counted[/]");
        }

        return true;
    }

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
