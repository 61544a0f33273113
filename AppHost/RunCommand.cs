using System.CommandLine;
using System.Reflection;
using System.Runtime.InteropServices;
using Spectre.Console;
using Trulayer.AppHost.Run;

namespace Trulayer.AppHost;

/// <summary><c>run</c>: start the stack, print where everything is, stop it all cleanly on Ctrl+C or SIGTERM.</summary>
public static class RunCommand
{
    public static string RepositoryRoot { get; } = Path.GetFullPath(typeof(RunCommand).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!);

    /// <summary>Adds the run options and action to <paramref name="command"/> (the root command, and "run").</summary>
    public static T Configure<T>(T command) where T : Command
    {
        var stateDirectory = new Option<string>("--state-dir")
        {
            Description = "Folder for PostgreSQL's data, generated secrets, logs and dev.json",
            DefaultValueFactory = _ => Path.Combine(RepositoryRoot, ".trulayer"),
        };
        var port = new Option<int>("--port")
        {
            Description = "The gateway's HTTP port (0: any free port)",
            DefaultValueFactory = _ => StackSettings.DefaultGatewayPort,
        };
        var grpcPort = new Option<int>("--grpc-port")
        {
            Description = "The gateway's OTLP/gRPC port (0: any free port)",
            DefaultValueFactory = _ => StackSettings.DefaultOtlpGrpcPort,
        };
        var kafka = new Option<string?>("--kafka") { Description = "Use this Kafka (host:port) instead of starting the dev broker" };
        var postgres = new Option<string?>("--postgres") { Description = "Use this PostgreSQL (a connection string) instead of a private cluster" };
        var drainTimeout = new Option<int>("--drain-timeout")
        {
            Description = "Seconds to wait on shutdown for the processor to store what Kafka holds",
            DefaultValueFactory = _ => 30,
        };
        var healthTimeout = new Option<int>("--health-timeout")
        {
            Description = "Seconds each service may take to become healthy at start (a migration that rebuilds an index over a large database needs more)",
            DefaultValueFactory = _ => 90,
        };
        healthTimeout.Validators.Add(result =>
        {
            // A value that is not a number is already an error of its own (the option's type).
            if (result.Tokens.Count == 1 && int.TryParse(result.Tokens[0].Value, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds is < 1 or > 86_400)
            {
                result.AddError("--health-timeout must be from 1 to 86400 seconds");
            }
        });
        var replicas = new Option<IReadOnlyDictionary<string, int>>("--replicas")
        {
            Description = $"Processes of a service to run, as ingest=2,processor=2 (ingest and processor; 1 to {ReplicaCounts.Max} each)",
            DefaultValueFactory = _ => new Dictionary<string, int>(),
            CustomParser = ParseReplicas,
        };

        foreach (var option in new Option[] { stateDirectory, port, grpcPort, kafka, postgres, drainTimeout, healthTimeout, replicas })
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, _) => RunAsync(
            new StackSettings
            {
                GatewayPort = parse.GetValue(port),
                OtlpGrpcPort = parse.GetValue(grpcPort),
                ExternalKafka = parse.GetValue(kafka),
                ExternalPostgres = parse.GetValue(postgres),
            },
            new RunOptions
            {
                StateDirectory = Path.GetFullPath(parse.GetValue(stateDirectory)!),
                DrainTimeout = TimeSpan.FromSeconds(parse.GetValue(drainTimeout)),
                HealthTimeout = TimeSpan.FromSeconds(parse.GetValue(healthTimeout)),
                Replicas = parse.GetValue(replicas)!,
            }));
        return command;
    }

    /// <summary>--replicas checked against the stack's services, with what is wrong in words.</summary>
    private static IReadOnlyDictionary<string, int> ParseReplicas(System.CommandLine.Parsing.ArgumentResult result)
    {
        try
        {
            return ReplicaCounts.Parse(string.Join(',', result.Tokens.Select(t => t.Value)), TrulayerModel.Build(new StackSettings()));
        }
        catch (FormatException ex)
        {
            result.AddError(ex.Message);
            return new Dictionary<string, int>();
        }
    }

    private static async Task<int> RunAsync(StackSettings settings, RunOptions options)
    {
        using var stopping = new CancellationTokenSource();
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            if (!stopping.IsCancellationRequested)
            {
                Console.Error.WriteLine("stopping: the gateway and ingest first, then the rest once the processor has drained Kafka");
                stopping.Cancel();
            }
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

        var log = new ConsoleLogSink(Path.Combine(options.StateDirectory, "logs"));
        var started = DateTime.UtcNow;
        DistributedApplication app;
        try
        {
            app = await DistributedApplication.StartAsync(TrulayerModel.Build(settings), options, log, stopping.Token);
        }
        catch (PrerequisiteException ex)
        {
            Console.Error.WriteLine($"trulayer: {ex.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            return 130;
        }
        catch (InvalidOperationException ex)
        {
            Console.Error.WriteLine($"trulayer: {ex.Message} (logs: {Path.Combine(options.StateDirectory, "logs")})");
            return 1;
        }

        PrintTable(app, DateTime.UtcNow - started);
        try
        {
            await Task.Delay(Timeout.Infinite, stopping.Token);
        }
        catch (OperationCanceledException)
        {
        }

        await app.StopAsync();
        return 0;
    }

    private static void PrintTable(DistributedApplication app, TimeSpan elapsed)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title($"Trulayer is up ({elapsed.TotalSeconds:0.0} s)")
            .AddColumn("resource").AddColumn("state").AddColumn("where");
        foreach (var (name, state, location) in app.Describe())
        {
            table.AddRow(Markup.Escape(name), Markup.Escape(state), Markup.Escape(location));
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"Gateway [bold]{Markup.Escape(app.Info.Gateway ?? "")}[/], OTLP/gRPC [bold]{Markup.Escape(app.Info.OtlpGrpc ?? "")}[/]");
        // The gateway serves the dashboard; locally its sign-in page offers the seeded owner, member and viewer.
        AnsiConsole.MarkupLine($"Dashboard [bold]{Markup.Escape((app.Info.Gateway ?? "").TrimEnd('/') + "/")}[/] (sign in as the dev owner, member or viewer)");
        AnsiConsole.MarkupLine($"Details (keys, sessions, connection strings): [bold]{Markup.Escape(Path.Combine(app.Options.StateDirectory, DevInfo.FileName))}[/]. Ctrl+C stops everything.");
    }
}
