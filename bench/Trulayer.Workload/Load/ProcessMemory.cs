using System.Globalization;

namespace Trulayer.Workload.Load;

/// <summary>Memory of a process (or a process tree) as Linux reports it in /proc.</summary>
/// <param name="ResidentBytes">VmRSS: every page the process maps, shared ones included.</param>
/// <param name="PeakResidentBytes">VmHWM, the largest VmRSS since the process started.</param>
public readonly record struct ProcessMemory(long ResidentBytes, long PeakResidentBytes)
{
    /// <summary>The memory of process <paramref name="pid"/>; null when it is gone.</summary>
    public static ProcessMemory? Read(int pid)
    {
        try
        {
            long rss = 0, peak = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = Kilobytes(line);
                }
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    peak = Kilobytes(line);
                }
            }

            return new ProcessMemory(rss, peak);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The proportional set size (Pss of /proc/&lt;pid&gt;/smaps_rollup) summed over <paramref name="pids"/>: each
    /// process's private pages plus its share of the pages it shares with others (the runtime's libraries,
    /// PostgreSQL's shared buffers), so a sum over many processes counts every page once, as the machine
    /// does. Processes that are gone count nothing; null when none could be read.
    /// </summary>
    public static long? ReadProportional(IEnumerable<int> pids)
    {
        long? pss = null;
        foreach (var pid in pids)
        {
            try
            {
                var line = File.ReadLines($"/proc/{pid}/smaps_rollup").FirstOrDefault(l => l.StartsWith("Pss:", StringComparison.Ordinal));
                pss = (pss ?? 0) + (line is null ? 0 : Kilobytes(line));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }

        return pss;
    }

    /// <summary>Every running process's direct children, by parent process id, read from /proc in one pass.</summary>
    public static ILookup<int, int> ChildrenByParent()
    {
        var pairs = new List<(int Parent, int Child)>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields.Length > 1 && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var parent))
            {
                pairs.Add((parent, pid));
            }
        }

        return pairs.ToLookup(p => p.Parent, p => p.Child);
    }

    private static long Kilobytes(string line)
    {
        var digits = line.AsSpan(line.IndexOf(':') + 1).Trim();
        var end = digits.IndexOf(' ');
        return long.Parse(end < 0 ? digits : digits[..end], NumberStyles.None, CultureInfo.InvariantCulture) * 1024;
    }
}

/// <summary>
/// Samples the memory of named processes while a run goes on, keeping each one's last and largest reading
/// and the largest sum over all of them read at the same moment (not the sum of each one's largest).
/// </summary>
public sealed class MemorySampler
{
    private readonly Func<IReadOnlyDictionary<string, long?>> _read;
    private readonly Dictionary<string, (long Last, long Max)> _samples = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _lastTotal;
    private long _maxTotal;

    /// <param name="read">Reads every process of interest now, in bytes by name (null for one that is not running).</param>
    public MemorySampler(Func<IReadOnlyDictionary<string, long?>> read) => _read = read;

    public void Sample()
    {
        var readings = _read();
        lock (_lock)
        {
            long total = 0;
            foreach (var (name, memory) in readings)
            {
                if (memory is { } bytes)
                {
                    var max = _samples.TryGetValue(name, out var previous) ? Math.Max(previous.Max, bytes) : bytes;
                    _samples[name] = (bytes, max);
                    total += bytes;
                }
            }

            if (total > 0)
            {
                _lastTotal = total;
                _maxTotal = Math.Max(_maxTotal, total);
            }
        }
    }

    /// <summary>Each process's last and largest reading so far, in bytes.</summary>
    public IReadOnlyDictionary<string, (long Last, long Max)> Samples
    {
        get
        {
            lock (_lock)
            {
                return new Dictionary<string, (long, long)>(_samples, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>The sum over every process of the last reading, and the largest such sum so far, in bytes.</summary>
    public (long Last, long Max) Total
    {
        get
        {
            lock (_lock)
            {
                return (_lastTotal, _maxTotal);
            }
        }
    }
}
