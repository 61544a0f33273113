using System.Globalization;

namespace Trulayer.Workload.Load;

/// <summary>CPU time of a process as Linux reports it in /proc: what it cost, whatever else the machine was doing.</summary>
public static class ProcessCpu
{
    /// <summary>User + system time of all threads of <paramref name="pid"/> so far (/proc/&lt;pid&gt;/stat, fields 14 and 15, in ticks of 1/100 s).</summary>
    public static TimeSpan Read(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // The command name, in parentheses, may hold spaces: fields are counted after its closing one.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromMilliseconds(ticks * 10);
    }
}
