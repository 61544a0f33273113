using System.Globalization;

namespace Trulayer.Workload.Load;

/// <summary>Memory of a process (or a process tree) as Linux reports it in /proc.</summary>
/// <param name="ResidentBytes">VmRSS; for a tree, the sum of proportional set sizes (Pss), so shared memory counts once.</param>
/// <param name="PeakResidentBytes">VmHWM, the largest VmRSS since the process started (the root's, for a tree).</param>
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
    /// A process and its children (PostgreSQL's postmaster and backends, say), summing Pss from
    /// /proc/&lt;pid&gt;/smaps_rollup: their shared buffers are shared memory, which RSS would count in every process.
    /// </summary>
    public static ProcessMemory? ReadTree(int pid)
    {
        if (Read(pid) is not { } root)
        {
            return null;
        }

        long pss = 0;
        foreach (var member in Children(pid).Prepend(pid))
        {
            try
            {
                var line = File.ReadLines($"/proc/{member}/smaps_rollup").FirstOrDefault(l => l.StartsWith("Pss:", StringComparison.Ordinal));
                pss += line is null ? 0 : Kilobytes(line);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }

        return new ProcessMemory(pss, root.PeakResidentBytes);
    }

    /// <summary>The direct children of <paramref name="pid"/>.</summary>
    public static IEnumerable<int> Children(int pid)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var candidate))
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
            if (fields.Length > 1 && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var parent) && parent == pid)
            {
                yield return candidate;
            }
        }
    }

    private static long Kilobytes(string line)
    {
        var digits = line.AsSpan(line.IndexOf(':') + 1).Trim();
        var end = digits.IndexOf(' ');
        return long.Parse(end < 0 ? digits : digits[..end], NumberStyles.None, CultureInfo.InvariantCulture) * 1024;
    }
}

/// <summary>Samples the memory of named processes while a run goes on, keeping the last and the largest reading of each.</summary>
public sealed class MemorySampler
{
    private readonly Func<IReadOnlyDictionary<string, ProcessMemory?>> _read;
    private readonly Dictionary<string, (long Last, long Max)> _samples = new(StringComparer.Ordinal);
    private readonly object _lock = new();

    /// <param name="read">Reads every process of interest now, by name (null for one that is not running).</param>
    public MemorySampler(Func<IReadOnlyDictionary<string, ProcessMemory?>> read) => _read = read;

    public void Sample()
    {
        var readings = _read();
        lock (_lock)
        {
            foreach (var (name, memory) in readings)
            {
                if (memory is { } m)
                {
                    var max = _samples.TryGetValue(name, out var previous) ? Math.Max(previous.Max, m.ResidentBytes) : m.ResidentBytes;
                    _samples[name] = (m.ResidentBytes, max);
                }
            }
        }
    }

    /// <summary>Each process's last and largest resident size seen so far, in bytes.</summary>
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
}
