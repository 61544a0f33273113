using System.Net.Http.Headers;
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
    private HttpClient? _http;

    public MemoryLogSink Log { get; } = new();

    public DistributedApplication App => _app ?? throw new InvalidOperationException("the stack has not started");

    public string StateDirectory => _stateDirectory ?? throw new InvalidOperationException("the stack has not started");

    public Uri Gateway => App.GetEndpoint("gateway");

    /// <summary>What the stack wrote to dev.json: the dev API key, project and sessions.</summary>
    public DevInfo Dev { get; private set; } = new();

    /// <summary>The tests' client for the stack's endpoints.</summary>
    public HttpClient Http => _http ??= CreateHttpClient();

    protected virtual HttpClient CreateHttpClient() => new() { Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>A request through the gateway with a bearer credential (none when null).</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string pathAndQuery, string? credential, HttpContent? content = null, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(Gateway, pathAndQuery)) { Content = content };
        if (credential is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        }

        configure?.Invoke(request);
        return await Http.SendAsync(request);
    }

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
            Dev = DevInfo.Read(_stateDirectory) ?? throw new InvalidOperationException("the stack wrote no dev.json");
        }
        catch (Exception ex) when (ex is InvalidOperationException or PrerequisiteException)
        {
            throw new InvalidOperationException($"the stack did not start: {ex.Message}\n{Log.Tail()}", ex);
        }
    }

    public virtual async Task DisposeAsync()
    {
        _http?.Dispose();
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
