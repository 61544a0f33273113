using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Trulayer.Auth.ApiKeys;

/// <summary>
/// Remembers when each API key was last used, in memory; <see cref="ApiKeyUsageFlusher"/> writes them
/// in one batched update per interval, so verifying a key never costs a database write.
/// </summary>
internal sealed class ApiKeyUsageRecorder
{
    private ConcurrentDictionary<Guid, DateTimeOffset> _uses = new();

    public void Record(Guid keyId, DateTimeOffset when)
        => _uses.AddOrUpdate(keyId, when, (_, previous) => previous >= when ? previous : when);

    /// <summary>Takes what was recorded since the last call.</summary>
    public IReadOnlyCollection<KeyValuePair<Guid, DateTimeOffset>> Drain()
        => Interlocked.Exchange(ref _uses, new ConcurrentDictionary<Guid, DateTimeOffset>()).ToArray();

    /// <summary>Puts back what could not be written, without overwriting newer uses.</summary>
    public void Restore(IEnumerable<KeyValuePair<Guid, DateTimeOffset>> uses)
    {
        foreach (var (keyId, when) in uses)
        {
            Record(keyId, when);
        }
    }
}

internal sealed partial class ApiKeyUsageFlusher(
    ApiKeyUsageRecorder recorder,
    ApiKeyStore store,
    IOptions<AuthOptions> options,
    ILogger<ApiKeyUsageFlusher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ApiKeys.LastUsedFlushInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushAsync(cancellationToken);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        var uses = recorder.Drain();
        if (uses.Count == 0)
        {
            return;
        }

        try
        {
            await store.RecordLastUsedAsync(uses, cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            recorder.Restore(uses);
            Log.FlushFailed(logger, uses.Count, ex.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1300, Level = LogLevel.Warning, Message = "Could not record the last use of {Count} API key(s), will retry: {Error}")]
        public static partial void FlushFailed(ILogger logger, int count, string error);
    }
}
