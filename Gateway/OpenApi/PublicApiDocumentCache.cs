using System.Text.Json;
using System.Text.Json.Nodes;
using Trulayer.ServiceDefaults.OpenApi;
using Yarp.ReverseProxy.Configuration;

namespace Trulayer.Gateway.OpenApi;

/// <summary>The merged document as served, with what it lacks.</summary>
internal sealed record PublicApiSnapshot(byte[] Json, MergedDocument Merged, DateTimeOffset BuiltAt);

/// <summary>
/// Fetches each service's document (from the clusters of the public HTTP routes, so a new service's routes
/// are picked up with its cluster), merges them and keeps the result: rebuilt every
/// <see cref="CompleteRefresh"/>, or every <see cref="IncompleteRefresh"/> while a service did not answer or a
/// route is undocumented. A service that is down leaves the rest served, with its absence said in the
/// document (x-trulayer-unavailable), a response header and a log line.
/// </summary>
internal sealed partial class PublicApiDocumentCache(
    IHttpClientFactory httpClients,
    IProxyConfigProvider proxyConfig,
    TimeProvider time,
    ILogger<PublicApiDocumentCache> logger) : BackgroundService
{
    public const string HttpClientName = "openapi";
    public static readonly TimeSpan CompleteRefresh = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan IncompleteRefresh = TimeSpan.FromSeconds(15);
    public static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _building = new(1, 1);
    private volatile PublicApiSnapshot? _current;

    /// <summary>The latest document; the first call builds it.</summary>
    public async Task<PublicApiSnapshot> GetAsync(CancellationToken cancellationToken)
        => _current ?? await RefreshAsync(onlyIfMissing: true, cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var snapshot = await RefreshAsync(onlyIfMissing: false, stoppingToken);
                await Task.Delay(snapshot.Merged.IsComplete ? CompleteRefresh : IncompleteRefresh, time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task<PublicApiSnapshot> RefreshAsync(bool onlyIfMissing, CancellationToken cancellationToken)
    {
        await _building.WaitAsync(cancellationToken);
        try
        {
            if (onlyIfMissing && _current is { } built)
            {
                return built;
            }

            var clusters = GatewayRoutes.All.Where(r => !r.Grpc).Select(r => r.Cluster).Distinct().ToList();
            var documents = await Task.WhenAll(clusters.Select(c => FetchAsync(c, cancellationToken)));
            var merged = PublicApiDocument.Merge(GatewayRoutes.All, documents);
            var previous = _current;
            var snapshot = new PublicApiSnapshot(JsonSerializer.SerializeToUtf8Bytes(merged.Document), merged, time.GetUtcNow());
            _current = snapshot;
            if (!merged.IsComplete)
            {
                Log.Incomplete(logger, string.Join("; ", merged.Unavailable.Concat(merged.Undocumented)), IncompleteRefresh.TotalSeconds);
            }
            else if (previous is { Merged.IsComplete: false })
            {
                Log.Complete(logger);
            }

            return snapshot;
        }
        finally
        {
            _building.Release();
        }
    }

    /// <summary>A cluster's document from the first of its destinations that answers.</summary>
    private async Task<ServiceDocument> FetchAsync(string cluster, CancellationToken cancellationToken)
    {
        var config = proxyConfig.GetConfig().Clusters.FirstOrDefault(c => c.ClusterId == cluster);
        if (config?.Destinations is not { Count: > 0 } destinations)
        {
            return new ServiceDocument(cluster, null, "the gateway has no address for it");
        }

        var failure = "";
        foreach (var destination in destinations.Values)
        {
            var address = new Uri(new Uri(destination.Address), ServiceOpenApi.DocumentPath);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(FetchTimeout);
            try
            {
                using var response = await httpClients.CreateClient(HttpClientName).GetAsync(address, timeout.Token);
                if (!response.IsSuccessStatusCode)
                {
                    failure = $"GET {address} answered {(int)response.StatusCode}";
                    continue;
                }

                var document = await JsonNode.ParseAsync(await response.Content.ReadAsStreamAsync(timeout.Token), cancellationToken: timeout.Token);
                if (document is JsonObject found)
                {
                    return new ServiceDocument(cluster, found, null);
                }

                failure = $"GET {address} answered something other than a JSON object";
            }
            catch (Exception ex) when (ex is HttpRequestException or JsonException || ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                failure = $"GET {address} failed: {(ex is OperationCanceledException ? $"no answer within {FetchTimeout.TotalSeconds} s" : ex.Message)}";
            }
        }

        return new ServiceDocument(cluster, null, failure);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1430, Level = LogLevel.Warning, Message = "The public OpenAPI document is incomplete: {Missing}; served as it is, rebuilt in {Seconds} s")]
        public static partial void Incomplete(ILogger logger, string missing, double seconds);

        [LoggerMessage(EventId = 1431, Level = LogLevel.Information, Message = "The public OpenAPI document is complete again")]
        public static partial void Complete(ILogger logger);
    }
}
