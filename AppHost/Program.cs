using System.CommandLine;
using Trulayer.AppHost;

// `dotnet run --project AppHost` with no command runs the stack, as does `run`.
var root = RunCommand.Configure(new RootCommand("Trulayer AppHost: runs the whole stack locally, or publishes it as Kubernetes manifests."));
root.Subcommands.Add(RunCommand.Configure(new Command("run", "Start PostgreSQL, Kafka and the five services; Ctrl+C stops them all")));
root.Subcommands.Add(PublishCommand.Create());

// The AppHost handles SIGINT/SIGTERM itself: shutting down in order may take longer than the parser's default grace.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

/// <summary>Internal, unlike the public Program the ASP.NET Core generator would emit, so test projects that
/// reference the AppHost can still name a service's Program in WebApplicationFactory&lt;Program&gt;.</summary>
internal sealed partial class Program;
