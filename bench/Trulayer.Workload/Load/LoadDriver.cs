using System.Diagnostics;

namespace Trulayer.Workload.Load;

/// <summary>
/// Drives the stack through the gateway: <see cref="LoadSettings.Senders"/> senders, each sending one
/// request at a time stamped from the template with fresh ids, paced to the target rate or flat out,
/// retrying like a well-made OTLP exporter (<see cref="RetryPolicy"/>), and writing every request's
/// outcome into the <see cref="Ledger"/> for the loss count afterwards. With <see cref="LoadSignal.Mixed"/>,
/// each request's GenAI log events follow it (same request number, so they name its spans), counted in
/// <see cref="EventsProgress"/>.
/// </summary>
public sealed class LoadDriver : IDisposable
{
    private readonly LoadSettings _settings;
    private readonly OtlpExportClient _client;
    private readonly OtlpExportClient? _eventsClient;
    private readonly RatePacer _pacer;
    private readonly long _maxRequests;
    private long _lastRequest;

    public LoadDriver(LoadTarget target, LoadSettings settings, RunIds? ids = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.Senders, 1);
        _settings = settings;
        Target = target;
        Ids = ids ?? RunIds.NewRun();
        Template = settings.CreateTemplate();
        EventsTemplate = settings.CreateEventsTemplate();
        _client = new OtlpExportClient(target, settings.Transport, settings.Senders, settings.RequestTimeout, logs: settings.Signal == LoadSignal.Logs);
        _eventsClient = EventsTemplate is null ? null : new OtlpExportClient(target, settings.Transport, settings.Senders, settings.RequestTimeout, logs: true);
        _pacer = new RatePacer(settings.SpansPerSecond is { } rate ? rate / Template.SpanCount : 0);
        _maxRequests = settings.MaxSpans is { } spans ? (spans + Template.SpanCount - 1) / Template.SpanCount : long.MaxValue;
    }

    public LoadTarget Target { get; }

    public LoadSettings Settings => _settings;

    public RunIds Ids { get; }

    public RequestTemplate Template { get; }

    /// <summary>With <see cref="LoadSignal.Mixed"/>: the GenAI log events sent after each request.</summary>
    public RequestTemplate? EventsTemplate { get; }

    public LoadProgress Progress { get; } = new();

    /// <summary>With <see cref="LoadSignal.Mixed"/>: the events' counters (items are log records).</summary>
    public LoadProgress EventsProgress { get; } = new();

    public SpanLedger Ledger { get; } = new();

    /// <summary>Raised after every attempt with the request's number and what came of it (on the sender's thread).</summary>
    public event Action<long, ExportAttempt>? Attempted;

    /// <summary>
    /// Sends until <paramref name="stop"/> is cancelled, the duration has passed or the span count is
    /// reached; then lets every request in flight finish (retries included) and returns. Cancelling
    /// <paramref name="abort"/> gives up on those too (they stay unsettled in the ledger).
    /// </summary>
    public async Task RunAsync(CancellationToken stop, CancellationToken abort = default)
    {
        using var sending = CancellationTokenSource.CreateLinkedTokenSource(stop, abort);
        if (_settings.Duration is { } duration)
        {
            sending.CancelAfter(duration);
        }

        var senders = Enumerable.Range(0, _settings.Senders)
            .Select(i => Task.Run(() => SendLoopAsync(i, sending.Token, abort), CancellationToken.None))
            .ToArray();
        await Task.WhenAll(senders);
    }

    private async Task SendLoopAsync(int sender, CancellationToken sending, CancellationToken abort)
    {
        var buffer = Template.NewBuffer();
        var events = EventsTemplate?.NewBuffer();
        var random = new Random(HashCode.Combine(Ids.RunId, sender));
        while (!sending.IsCancellationRequested)
        {
            try
            {
                await _pacer.WaitAsync(sending);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var request = Interlocked.Increment(ref _lastRequest);
            if (request > _maxRequests)
            {
                return;
            }

            Template.Stamp(buffer, Ids, request);
            Ledger.Begin(request, Template.SpanCount);
            Progress.RequestStarted(Template.SpanCount);
            try
            {
                await DeliverAsync(request, buffer, random, _client, Template.SpanCount, Progress, Ledger, abort);
                if (events is not null)
                {
                    EventsTemplate!.Stamp(events, Ids, request);
                    EventsProgress.RequestStarted(EventsTemplate.SpanCount);
                    await DeliverAsync(request, events, random, _eventsClient!, EventsTemplate.SpanCount, EventsProgress, ledger: null, abort);
                }
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Sends one request until it is acknowledged, refused, or the retry policy gives up.</summary>
    private async Task DeliverAsync(
        long request, byte[] payload, Random random, OtlpExportClient client, int spans, LoadProgress progress, SpanLedger? ledger, CancellationToken abort)
    {
        var started = Stopwatch.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            var result = await client.ExportAsync(payload, payload.Length, abort);
            progress.Attempted(result, retry: attempt > 1);
            if (ledger is not null)
            {
                Attempted?.Invoke(request, result);
            }

            switch (result.Outcome)
            {
                case AttemptOutcome.Accepted:
                    ledger?.Settle(request, RequestState.Acknowledged, result.RejectedSpans);
                    progress.Acknowledged(spans, result.RejectedSpans);
                    return;
                case AttemptOutcome.Refused:
                    ledger?.Settle(request, RequestState.Refused);
                    progress.Refused(spans);
                    return;
            }

            var delay = _settings.Retry.Delay(attempt, result.ServerDelay, random);
            if (Stopwatch.GetElapsedTime(started) + delay > _settings.Retry.GiveUpAfter)
            {
                ledger?.Settle(request, RequestState.Abandoned);
                progress.Abandoned(spans);
                return;
            }

            await Task.Delay(delay, abort);
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _eventsClient?.Dispose();
    }
}
