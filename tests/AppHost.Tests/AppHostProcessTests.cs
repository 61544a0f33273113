using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Trulayer.AppHost.Run;

namespace Trulayer.AppHost.Tests;

/// <summary>The AppHost as a developer runs it: a process of its own, stopped with SIGTERM.</summary>
public sealed partial class AppHostProcessTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task Run_ThenSigterm_EverythingHealthyThenNothingLeftBehind()
    {
        var state = TestDirectories.Create("smoke");
        var output = new List<string>();
        var start = new ProcessStartInfo(DotnetMuxer(), [
            typeof(TrulayerModel).Assembly.Location, "run",
            "--state-dir", state, "--port", "0", "--grpc-port", "0", "--drain-timeout", "10"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["NO_COLOR"] = "1" },
        };
        using var appHost = Process.Start(start)!;
        appHost.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.Add(e.Data); } } };
        appHost.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.Add(e.Data); } } };
        appHost.BeginOutputReadLine();
        appHost.BeginErrorReadLine();
        string Output() { lock (output) { return string.Join('\n', output.TakeLast(80)); } }

        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(120);
            DevInfo? info = null;
            // dev.json names the gateway right after the AppHost printed "gateway is healthy"; this process may read that line a moment later.
            while (DateTime.UtcNow < deadline && !appHost.HasExited
                   && ((info = DevInfo.Read(state))?.Gateway is null || !Output().Contains("gateway is healthy (", StringComparison.Ordinal)))
            {
                await Task.Delay(250);
            }

            Assert.True(info?.Gateway is not null, $"dev.json never named the gateway:\n{Output()}");
            Assert.NotNull(info.Postgres);
            Assert.NotNull(info.Kafka);

            string[] healthyLines;
            lock (output)
            {
                healthyLines = output.Where(l => l.Contains(" is healthy (", StringComparison.Ordinal)).ToArray();
            }

            var services = healthyLines.Select(l => HealthyLine().Match(l)).Where(m => m.Success)
                .ToDictionary(m => m.Groups["name"].Value, m => new Uri(m.Groups["url"].Value));
            Assert.Equal(["auth", "export", "gateway", "ingest", "processor"], services.Keys.Order());
            Assert.Contains(healthyLines, l => l.Contains("postgres is healthy", StringComparison.Ordinal));
            Assert.Contains(healthyLines, l => l.Contains("kafka is healthy", StringComparison.Ordinal));
            foreach (var (name, url) in services)
            {
                using var response = await Http.GetAsync(new Uri(url, "/health"));
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"{name} /health answered {response.StatusCode}");
            }

            var children = ChildrenOf(appHost.Id);
            Assert.Equal(5, children.Count(pid => File.ReadAllText($"/proc/{pid}/cmdline").Contains(".dll", StringComparison.Ordinal)));
            var postmaster = int.Parse(File.ReadLines(Directory.GetFiles(state, "postmaster.pid", SearchOption.AllDirectories).Single()).First(), CultureInfo.InvariantCulture);

            using (var kill = Process.Start("kill", ["-TERM", appHost.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            await appHost.WaitForExitAsync(exit.Token);

            Assert.True(appHost.ExitCode == 0, $"exit code {appHost.ExitCode}:\n{Output()}");
            // pg_ctl returns once the postmaster removed its pid file, a moment before the process is gone.
            var gone = DateTime.UtcNow.AddSeconds(10);
            while (DateTime.UtcNow < gone && children.Append(postmaster).Any(IsRunning))
            {
                await Task.Delay(100);
            }

            Assert.All(children.Append(postmaster), pid => Assert.False(IsRunning(pid), $"process {pid} is still running"));
            Assert.Empty(Directory.GetFiles(state, "postmaster.pid", SearchOption.AllDirectories));
        }
        finally
        {
            if (!appHost.HasExited)
            {
                appHost.Kill(entireProcessTree: true);
            }

            TestDirectories.TryDelete(state);
        }
    }

    /// <summary>Whether the process exists and is not a zombie waiting to be reaped.</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static List<int> ChildrenOf(int parent)
    {
        var children = new List<int>();
        foreach (var directory in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == parent)
                {
                    children.Add(pid);
                }
            }
            catch (IOException)
            {
            }
        }

        return children;
    }

    private static string DotnetMuxer() => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path ? path : "dotnet";

    [GeneratedRegex(@"apphost\s*\| (?<name>\w+) is healthy \(http (?<url>http://[0-9.:]+)")]
    private static partial Regex HealthyLine();
}
