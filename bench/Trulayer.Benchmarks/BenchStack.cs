using Trulayer.AppHost;
using Trulayer.AppHost.Model;
using Trulayer.AppHost.Run;

namespace Trulayer.Benchmarks;

/// <summary>
/// A stack from the AppHost's graph for a benchmark: free ports, a throwaway state folder, the services'
/// logs discarded (they are not the benchmark's output), stopped and removed when the process exits.
/// </summary>
internal static class BenchStack
{
    /// <param name="name">Names the state folder.</param>
    /// <param name="configure">Adjusts the graph before it starts (a service's settings, say).</param>
    public static async Task<(DistributedApplication App, DevInfo Dev)> StartAsync(string name, Action<AppModel>? configure = null)
    {
        var state = Path.Combine(Path.GetTempPath(), $"trulayer-bench-{name}-{Environment.ProcessId}");
        var model = TrulayerModel.Build(new StackSettings { GatewayPort = 0, OtlpGrpcPort = 0 });
        configure?.Invoke(model);
        var app = await DistributedApplication.StartAsync(model, new RunOptions
        {
            StateDirectory = state,
            DurablePostgres = false,
            WriteLogFiles = false,
            DrainTimeout = TimeSpan.FromSeconds(5),
        }, new DiscardingLogSink());
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            app.StopAsync().GetAwaiter().GetResult();
            Directory.Delete(state, recursive: true);
        };
        return (app, DevInfo.Read(state) ?? throw new InvalidOperationException("the stack wrote no dev.json"));
    }

    private sealed class DiscardingLogSink : ILogSink
    {
        public void Write(string resource, string line, bool isError = false)
        {
        }
    }
}
