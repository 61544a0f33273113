using System.Diagnostics;
using Spectre.Console;
using Spectre.Console.Rendering;
using Trulayer.ServiceDefaults.Kafka;
using Trulayer.Workload.Load;

namespace Trulayer.Load;

/// <summary>What a phase does besides sending.</summary>
/// <param name="DrainTimeout">How long to wait for the processor to store everything Kafka holds.</param>
/// <param name="RawCopyRows">Rows of the raw COPY ceiling per round; 0 skips it.</param>
/// <param name="RawCopyRounds">Rounds of the raw COPY ceiling.</param>
/// <param name="IdleMemoryAfter">
/// When set, the stack's memory is read again this long after sending stopped (or once the pipeline has
/// drained, if that takes longer): what the stack keeps once idle.
/// </param>
internal sealed record PhaseOptions(TimeSpan DrainTimeout, int RawCopyRows, int RawCopyRounds, string Topic, string Group, TimeSpan? IdleMemoryAfter = null);

/// <summary>
/// Runs one phase against the stack: sends with a <see cref="LoadDriver"/> while showing live progress
/// and sampling the stack's memory, waits for the pipeline to drain, reads the memory again once idle
/// (if asked), counts what was stored, measures the raw COPY ceiling, and reports.
/// </summary>
internal sealed class LoadSession(LoadTarget target, IAnsiConsole console)
{
    private readonly StackProcesses _processes = new(target);

    /// <summary>Sends for a while without measuring, so the phases after it meet warm processes (JIT, connections, caches).</summary>
    public async Task WarmUpAsync(LoadSettings settings, TimeSpan duration, CancellationToken stop)
    {
        if (duration <= TimeSpan.Zero)
        {
            return;
        }

        console.MarkupLine($"[grey]warming up for {duration.TotalSeconds:0} s ({settings.Batch}, {settings.Transport}); not measured[/]");
        using var driver = new LoadDriver(target, settings with { Duration = duration, MaxSpans = null });
        await driver.RunAsync(stop);
    }

    public async Task<PhaseReport> RunPhaseAsync(string name, LoadSettings settings, PhaseOptions options, CancellationToken stop)
    {
        using var driver = new LoadDriver(target, settings);
        using var lag = target.Kafka is null ? null : new PipelineLag(target.Kafka, options.Topic, options.Group);
        var before = new MemorySampler(_processes.ReadMemory);
        before.Sample();
        var memory = new MemorySampler(_processes.ReadMemory);
        var state = new LiveState(name, driver, settings);

        using var watching = new CancellationTokenSource();
        var watcher = WatchAsync(state, lag, memory, watching.Token);
        var view = ShowAsync(state, watching.Token);

        var started = Stopwatch.GetTimestamp();
        await driver.RunAsync(stop);
        var loadEnded = Stopwatch.GetTimestamp();
        var loadSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var sent = driver.Progress.Snapshot();

        state.Stage = "draining";
        var drained = lag is null || await lag.WaitDrainedAsync(options.DrainTimeout, reading => state.Lag = reading ?? state.Lag, CancellationToken.None);
        var totalSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await watching.CancelAsync();
        await Task.WhenAll(watcher, view);

        MemorySampler? idle = null;
        if (options.IdleMemoryAfter is { } idleAfter)
        {
            idle = await SampleIdleAsync(name, loadEnded, idleAfter, stop);
        }

        var idleSeconds = idle is null ? (double?)null : Math.Round(Stopwatch.GetElapsedTime(loadEnded).TotalSeconds, 1);

        DeliveryCount? delivery = null;
        RawCopyResult? rawCopy = null;
        if (settings.Signal == LoadSignal.Logs)
        {
            // The stored log records are the processor's logs table (issue 14's storage side); this tool
            // counts what ingest acknowledged, not yet what was stored.
            console.MarkupLine($"[grey]{Markup.Escape(name)}: logs: acknowledged log records counted; stored ones are not[/]");
        }
        else if (target.Postgres is { } postgres)
        {
            console.MarkupLine($"[grey]{Markup.Escape(name)}: counting the run's spans in PostgreSQL[/]");
            delivery = await DeliveryCount.CountAsync(postgres, target.ProjectId, driver.Ids, driver.Template, driver.Ledger, CancellationToken.None);
            if (options.RawCopyRows > 0)
            {
                console.MarkupLine($"[grey]{Markup.Escape(name)}: raw binary COPY of {options.RawCopyRows:N0} rows of the same batch, {options.RawCopyRounds} rounds[/]");
                rawCopy = RawCopyCeiling.Measure(postgres, target.ProjectId, settings, options.RawCopyRows, options.RawCopyRounds);
            }
        }

        double? endToEnd = delivery is not null && drained ? delivery.StoredSpans / totalSeconds : null;
        return new PhaseReport
        {
            Name = name,
            Transport = settings.Transport.ToString(),
            Batch = settings.Batch.ToString(),
            Signal = settings.Signal.ToString(),
            Events = driver.EventsTemplate is null ? null : driver.EventsProgress.Snapshot(),
            SpansPerRequest = settings.SpansPerRequest,
            Senders = settings.Senders,
            OfferedSpansPerSecond = settings.SpansPerSecond,
            LoadSeconds = Math.Round(loadSeconds, 2),
            DrainSeconds = Math.Round(totalSeconds - loadSeconds, 2),
            Drained = drained,
            Requests = sent.Requests,
            Retries = sent.Retries,
            AcknowledgedRequests = sent.AcknowledgedRequests,
            AcknowledgedSpans = sent.AcknowledgedSpans,
            RefusedRequests = sent.RefusedRequests,
            AbandonedRequests = sent.AbandonedRequests,
            Statuses = sent.Statuses,
            Messages = driver.Progress.Messages,
            IngestSpansPerSecond = Math.Round(sent.AcknowledgedSpans / loadSeconds),
            EndToEndSpansPerSecond = endToEnd is { } e ? Math.Round(e) : null,
            Latency = LatencyReport.From(sent.Latency),
            MaxLagRecords = state.MaxLag,
            Memory = memory.Samples.ToDictionary(
                s => s.Key,
                s => MemoryReport.From(before.Samples.TryGetValue(s.Key, out var b) ? b.Last : null, s.Value.Max, idle?.Samples.TryGetValue(s.Key, out var i) == true ? i.Last : null)),
            TotalMemory = memory.Total.Max > 0 ? MemoryReport.From(before.Total.Last, memory.Total.Max, idle?.Total.Last) : null,
            IdleSeconds = idleSeconds,
            Delivery = delivery,
            RawCopy = rawCopy,
            RatioToRawCopy = endToEnd is { } rate && rawCopy is { } raw ? Math.Round(rate / raw.Median, 3) : null,
        };
    }

    /// <summary>Samples the stack's memory once a second until <paramref name="after"/> has passed since <paramref name="loadEnded"/>.</summary>
    private async Task<MemorySampler> SampleIdleAsync(string name, long loadEnded, TimeSpan after, CancellationToken stop)
    {
        console.MarkupLine($"[grey]{Markup.Escape(name)}: reading the stack's memory until {after.TotalSeconds:0} s after the load ended[/]");
        var idle = new MemorySampler(_processes.ReadMemory);
        while (Stopwatch.GetElapsedTime(loadEnded) < after && !stop.IsCancellationRequested)
        {
            await Task.Run(idle.Sample, CancellationToken.None);
            try
            {
                await Task.Delay(1000, stop);
            }
            catch (OperationCanceledException)
            {
            }
        }

        await Task.Run(idle.Sample, CancellationToken.None);
        return idle;
    }

    /// <summary>Reads the lag (while sending) and the processes' memory (while sending and draining) once a second.</summary>
    private static async Task WatchAsync(LiveState state, PipelineLag? lag, MemorySampler memory, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            if (lag is not null && state.Stage != "draining")
            {
                state.Lag = await lag.ReadAsync(TimeSpan.FromSeconds(2)) ?? state.Lag;
            }

            await Task.Run(memory.Sample, CancellationToken.None);
            state.Memory = memory.Samples;
            state.TotalMemory = memory.Total.Last;
            try
            {
                await Task.Delay(1000, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task ShowAsync(LiveState state, CancellationToken cancellationToken)
    {
        if (!console.Profile.Capabilities.Interactive)
        {
            // Redirected output: a line every five seconds instead of a live table.
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(5000, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                }

                console.WriteLine(state.Line());
            }

            return;
        }

        await console.Live(state.Render()).AutoClear(false).StartAsync(async context =>
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(1000, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                }

                context.UpdateTarget(state.Render());
                context.Refresh();
            }
        });
    }

    /// <summary>What the live view shows, updated by the watcher and read by the view.</summary>
    private sealed class LiveState(string name, LoadDriver driver, LoadSettings settings)
    {
        private LoadSnapshot? _previous;
        private ConsumerLag? _lag;

        public volatile string Stage = "sending";

        public long MaxLag { get; private set; }

        public ConsumerLag? Lag
        {
            get => _lag;
            set
            {
                _lag = value;
                if (value is not null)
                {
                    MaxLag = Math.Max(MaxLag, value.TotalRecords);
                }
            }
        }

        public IReadOnlyDictionary<string, (long Last, long Max)> Memory { get; set; } = new Dictionary<string, (long, long)>();

        public long TotalMemory { get; set; }

        public IRenderable Render()
        {
            var now = driver.Progress.Snapshot();
            var previous = _previous ?? now;
            _previous = now;
            var seconds = Math.Max(0.001, (now.Elapsed - previous.Elapsed).TotalSeconds);
            var interval = now.Latency.Since(previous.Latency);
            var table = new Table().Border(TableBorder.Rounded)
                .Title($"{Markup.Escape(name)}: {Stage}, {now.Elapsed:mm\\:ss}")
                .AddColumn("").AddColumn(new TableColumn("").RightAligned()).AddColumn("").AddColumn(new TableColumn("").RightAligned());
            table.HideHeaders();
            table.AddRow("requests sent", $"{now.Requests:N0}", "spans sent", $"{now.SpansSent:N0}");
            table.AddRow("acknowledged", $"{now.AcknowledgedRequests:N0}", "spans acknowledged", $"{now.AcknowledgedSpans:N0}");
            table.AddRow("refused (not retried)", $"{now.RefusedRequests:N0}", "spans/s now", $"{(now.AcknowledgedSpans - previous.AcknowledgedSpans) / seconds:N0}");
            table.AddRow("retries", $"{now.Retries:N0}", "spans/s average", $"{now.AcknowledgedSpans / Math.Max(0.001, now.Elapsed.TotalSeconds):N0}");
            table.AddRow("abandoned", $"{now.AbandonedRequests:N0}", "target spans/s", settings.SpansPerSecond is { } rate ? $"{rate:N0}" : "flat out");
            table.AddRow("in flight", $"{now.InFlight:N0}", "latency p50 / p95 / p99", Latency(now.Latency));
            table.AddRow("answers", Markup.Escape(string.Join(" ", now.Statuses.Select(s => $"{s.Key}×{s.Value}"))), "last second", Latency(interval));
            table.AddRow("consumer lag", Lag is { } lag ? $"{lag.TotalRecords:N0} records" : "-", "fullest partition", Lag is { } l ? $"{l.MaxPartitionRecords:N0}" : "-");
            if (Memory.Count > 0)
            {
                table.AddRow("memory (PSS, MiB)", $"{TotalMemory / 1048576.0:N0}", Markup.Escape(string.Join("  ", Memory.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $"{m.Key} {m.Value.Last / 1048576.0:0}"))), "");
            }

            return table;
        }

        public string Line()
        {
            var now = driver.Progress.Snapshot();
            return $"{name} {Stage} {now.Elapsed:mm\\:ss}: sent {now.Requests:N0}, acknowledged {now.AcknowledgedRequests:N0} ({now.AcknowledgedSpans:N0} spans), " +
                   $"retries {now.Retries:N0}, refused {now.RefusedRequests:N0}, p50/p95/p99 {Latency(now.Latency)}, lag {Lag?.TotalRecords.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) ?? "-"}";
        }

        private static string Latency(LatencySnapshot latency) => latency.Count == 0
            ? "-"
            : $"{latency.Percentile(50).TotalMilliseconds:0.0} / {latency.Percentile(95).TotalMilliseconds:0.0} / {latency.Percentile(99).TotalMilliseconds:0.0} ms";
    }
}
