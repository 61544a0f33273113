using Trulayer.AppHost;
using Trulayer.AppHost.Model;
using Trulayer.AppHost.Run;

namespace Trulayer.Testing;

/// <summary>
/// The whole stack (or the part a subclass keeps) from the AppHost's resource graph, on free ports and
/// a throwaway state folder, the way Aspire.Hosting.Testing starts an AppHost from a test.
/// </summary>
public class StackFixture : IAsyncLifetime
{
    private string? _stateDirectory;
    private DistributedApplication? _app;

    public MemoryLogSink Log { get; } = new();

    public DistributedApplication App => _app ?? throw new InvalidOperationException("the stack has not started");

    public string StateDirectory => _stateDirectory ?? throw new InvalidOperationException("the stack has not started");

    public Uri Gateway => App.GetEndpoint("gateway");

    /// <summary>Adjusts the graph before it starts (extra settings on a service, say).</summary>
    protected virtual void Configure(AppModel model)
    {
    }

    protected virtual RunOptions CreateRunOptions(string stateDirectory) => new()
    {
        StateDirectory = stateDirectory,
        DurablePostgres = false,
        DrainTimeout = TimeSpan.FromSeconds(20),
        StopGracePeriod = TimeSpan.FromSeconds(10),
    };

    public virtual async Task InitializeAsync()
    {
        _stateDirectory = TestDirectories.Create("stack");
        var model = TrulayerModel.Build(new StackSettings { GatewayPort = 0, OtlpGrpcPort = 0 });
        Configure(model);
        try
        {
            _app = await DistributedApplication.StartAsync(model, CreateRunOptions(_stateDirectory), Log);
        }
        catch (Exception ex) when (ex is InvalidOperationException or PrerequisiteException)
        {
            throw new InvalidOperationException($"the stack did not start: {ex.Message}\n{Log.Tail()}", ex);
        }
    }

    public virtual async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
        }

        if (_stateDirectory is not null)
        {
            TestDirectories.TryDelete(_stateDirectory);
        }
    }
}
