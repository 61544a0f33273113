using System.Globalization;

namespace Trulayer.Workload.Load;

/// <summary>CPU time of a process as Linux reports it in /proc: what it cost, whatever else the machine was doing.</summary>
public static class ProcessCpu
{
    /// <summary>User + system time of all threads of <paramref name="pid"/> so far (/proc/&lt;pid&gt;/stat, fields 14 and 15, in ticks of 1/100 s).</summary>
    public static TimeSpan Read(int pid) => Read(pid, reapedChildren: false);

    /// <summary>
    /// User + system time of <paramref name="pid"/> and of its children that have exited (fields 16 and 17),
    /// which together with its live children's own time never goes backwards when a child exits (a
    /// PostgreSQL backend, say).
    /// </summary>
    public static TimeSpan ReadWithExitedChildren(int pid) => Read(pid, reapedChildren: true);

    private static TimeSpan Read(int pid, bool reapedChildren)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // The command name, in parentheses, may hold spaces: fields are counted after its closing one.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        if (reapedChildren)
        {
            ticks += long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
        }

        return TimeSpan.FromMilliseconds(ticks * 10);
    }
}
