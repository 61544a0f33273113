using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;
using Trulayer.Workload.Load;

namespace Trulayer.Load;

/// <summary>Latency percentiles of acknowledged attempts, in milliseconds.</summary>
public sealed record LatencyReport(long Count, double P50, double P95, double P99, double Max)
{
    public static LatencyReport From(LatencySnapshot snapshot) => new(
        snapshot.Count,
        Math.Round(snapshot.Percentile(50).TotalMilliseconds, 2),
        Math.Round(snapshot.Percentile(95).TotalMilliseconds, 2),
        Math.Round(snapshot.Percentile(99).TotalMilliseconds, 2),
        Math.Round(snapshot.Max.TotalMilliseconds, 2));
}

/// <summary>
/// Memory of a member of the stack (or of all of them), as proportional set size in MiB: before the phase
/// sent anything, the most while it sent and the pipeline drained, and once idle after it (when measured).
/// </summary>
public sealed record MemoryReport(double? BeforeMiB, double PeakMiB, double? IdleMiB)
{
    public static MemoryReport From(long? before, long peak, long? idle) => new(MiB(before), MiB(peak)!.Value, MiB(idle));

    private static double? MiB(long? bytes) => bytes is { } b ? Math.Round(b / 1048576.0, 1) : null;
}

/// <summary>One phase of a run: what was sent, how ingest answered, what the pipeline stored.</summary>
public sealed record PhaseReport
{
    public required string Name { get; init; }
    public required string Transport { get; init; }
    public required string Batch { get; init; }

    /// <summary>Traces, Logs (items are log records) or Mixed (spans, then their GenAI log events).</summary>
    public string Signal { get; init; } = "Traces";

    /// <summary>With Mixed: the GenAI log events' counters (acknowledged, refused and abandoned records, statuses).</summary>
    public LoadSnapshot? Events { get; init; }
    public required int SpansPerRequest { get; init; }
    public required int Senders { get; init; }

    /// <summary>The target rate; null for flat out.</summary>
    public double? OfferedSpansPerSecond { get; init; }

    public required double LoadSeconds { get; init; }
    public required double DrainSeconds { get; init; }
    public required bool Drained { get; init; }
    public required long Requests { get; init; }
    public required long Retries { get; init; }
    public required long AcknowledgedRequests { get; init; }
    public required long AcknowledgedSpans { get; init; }
    public required long RefusedRequests { get; init; }
    public required long AbandonedRequests { get; init; }
    public required IReadOnlyDictionary<string, long> Statuses { get; init; }
    public required IReadOnlyDictionary<string, IReadOnlyList<string>> Messages { get; init; }

    /// <summary>Spans acknowledged per second while sending.</summary>
    public required double IngestSpansPerSecond { get; init; }

    /// <summary>Spans stored per second from the first request until the pipeline had drained.</summary>
    public double? EndToEndSpansPerSecond { get; init; }

    public required LatencyReport Latency { get; init; }
    public required long MaxLagRecords { get; init; }
    /// <summary>Each process of the stack (a service replica, the AppHost, PostgreSQL with its backends).</summary>
    public required IReadOnlyDictionary<string, MemoryReport> Memory { get; init; }

    /// <summary>The sum over the stack: its peak is the largest sum read at one moment.</summary>
    public MemoryReport? TotalMemory { get; init; }

    /// <summary>Seconds after sending stopped at which the idle memory was read; null when not measured.</summary>
    public double? IdleSeconds { get; init; }
    public DeliveryCount? Delivery { get; init; }
    public RawCopyResult? RawCopy { get; init; }

    /// <summary>End-to-end spans/s over the raw COPY ceiling's median round.</summary>
    public double? RatioToRawCopy { get; init; }

    /// <summary>Nothing lost, nothing duplicated, and the pipeline drained.</summary>
    [JsonIgnore]
    public bool Clean => Drained && Delivery is { IsExact: true };
}

/// <summary>The JSON report of a run (one phase, or the phases of a profile) and its summary table.</summary>
public sealed record LoadReport(string Machine, DateTimeOffset StartedAt, IReadOnlyList<PhaseReport> Phases)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    public void Write(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        File.WriteAllText(path, JsonSerializer.Serialize(this, Json));
    }

    /// <summary>One column per phase, one row per figure: narrow enough for an 80-column terminal with a few phases.</summary>
    public void Print(IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("Trulayer load: summary").AddColumn("");
        foreach (var phase in Phases)
        {
            table.AddColumn(new TableColumn(Markup.Escape(phase.Name)).RightAligned());
        }

        Row(table, "acknowledged spans", p => $"{p.AcknowledgedSpans:N0}");
        Row(table, "ingest spans/s", p => $"{p.IngestSpansPerSecond:N0}");
        Row(table, "end-to-end spans/s", p => p.EndToEndSpansPerSecond is { } e2e ? $"{e2e:N0}" : "-");
        Row(table, "raw COPY rows/s", p => p.RawCopy is { } raw ? $"{raw.Median:N0}" : "-");
        Row(table, "end to end / raw COPY", p => p.RatioToRawCopy is { } ratio ? $"{ratio:P0}" : "-");
        Row(table, "latency p50 ms", p => $"{p.Latency.P50:0.0}");
        Row(table, "latency p95 ms", p => $"{p.Latency.P95:0.0}");
        Row(table, "latency p99 ms", p => $"{p.Latency.P99:0.0}");
        Row(table, "largest lag (records)", p => $"{p.MaxLagRecords:N0}");
        Row(table, "lost", p => Count(p.Delivery?.Lost, p.Drained));
        Row(table, "duplicated", p => Count(p.Delivery?.Duplicated, p.Drained));
        Row(table, "answers", p => Markup.Escape(string.Join(" ", p.Statuses.Select(s => $"{s.Key}×{s.Value}"))));
        var idle = Phases.Any(p => p.IdleSeconds is not null);
        var columns = idle ? "before/peak/idle" : "before/peak";
        foreach (var name in Phases.SelectMany(p => p.Memory.Keys).Distinct().Order(StringComparer.Ordinal))
        {
            Row(table, $"{name} MiB ({columns})", p => p.Memory.TryGetValue(name, out var m) ? Memory(m, idle) : "-");
        }

        Row(table, $"stack MiB ({columns})", p => p.TotalMemory is { } total ? $"[bold]{Memory(total, idle)}[/]" : "-");
        if (idle)
        {
            Row(table, "idle read at (s after load)", p => p.IdleSeconds is { } s ? $"{s:0}" : "-");
        }

        console.Write(table);
    }

    private void Row(Table table, string label, Func<PhaseReport, string> value)
        => table.AddRow([Markup.Escape(label), .. Phases.Select(value)]);

    private static string Memory(MemoryReport memory, bool idle)
        => $"{MiB(memory.BeforeMiB)} / {MiB(memory.PeakMiB)}" + (idle ? $" / {MiB(memory.IdleMiB)}" : "");

    private static string MiB(double? value) => value is { } v ? $"{v:N0}" : "-";

    private static string Count(long? value, bool drained) => value switch
    {
        null => "-",
        0 when drained => "[green]0[/]",
        _ => $"[red]{value:N0}{(drained ? "" : " (not drained)")}[/]",
    };
}
