using System.Globalization;
using System.Text;
using Npgsql;
using Trulayer.Workload.Load;

namespace Trulayer.Load;

/// <summary>
/// The processes of the stack a run drives, found in /proc: the services and their replicas (their command
/// line names the service assembly; the one whose ConnectionStrings__kafka is the run's Kafka leads to the
/// AppHost that started them all, TRULAYER_PARENT_PID), the AppHost itself (it hosts the dev broker) and
/// the PostgreSQL server listening on the run's port (with its backends).
/// </summary>
internal sealed class StackProcesses
{
    private static readonly (string Name, string Assembly)[] Services =
    [
        ("gateway", "Gateway.dll"), ("auth", "Auth.Api.dll"), ("ingest", "Ingest.Api.dll"),
        ("processor", "Processor.Worker.dll"), ("export", "Export.Api.dll"),
    ];

    private readonly LoadTarget _target;

    public StackProcesses(LoadTarget target) => _target = target;

    /// <summary>
    /// The proportional set size of each member of the stack now, in bytes by name: every service replica,
    /// the AppHost (with the helper processes it started, PostgreSQL's watchdog shell) and PostgreSQL
    /// (the postmaster and its backends). One that is not found reads as null.
    /// </summary>
    public IReadOnlyDictionary<string, long?> ReadMemory()
        => Members().ToDictionary(m => m.Key, m => ProcessMemory.ReadProportional(m.Value), StringComparer.Ordinal);

    /// <summary>The processes of each member of the stack, by name, as they run now.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<int>> Members()
    {
        var found = Find();
        var children = ProcessMemory.ChildrenByParent();
        var members = new Dictionary<string, IReadOnlyList<int>>(StringComparer.Ordinal);
        var services = found.Where(f => f.Key is not ("apphost" or "postgres")).Select(f => f.Value).ToHashSet();
        foreach (var (name, pid) in found)
        {
            members[name] = name switch
            {
                "postgres" => [pid, .. children[pid]],
                "apphost" => [pid, .. Descendants(pid, children, except: services)],
                _ => [pid],
            };
        }

        return members;
    }

    /// <summary>
    /// Process ids by name (services, "apphost", "postgres"), as they run now: a restarted service has a
    /// new one. A service the AppHost runs several replicas of appears once per replica, under the name the
    /// AppHost gave it (TRULAYER_INSTANCE: "ingest-1", "ingest-2").
    /// </summary>
    public IReadOnlyDictionary<string, int> Find()
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        var services = new List<(string Name, int Pid, Dictionary<string, string> Environment)>();
        var postgresPort = PostgresPort();
        foreach (var pid in ProcessIds())
        {
            var arguments = CommandLine(pid);
            if (arguments.Length == 0)
            {
                continue;
            }

            if (Services.FirstOrDefault(s => arguments.Any(a => a.EndsWith("/" + s.Assembly, StringComparison.Ordinal) || a == s.Assembly)) is { Name: { } name })
            {
                services.Add((name, pid, Environment(pid)));
            }
            else if (postgresPort is { } port && Path.GetFileName(arguments[0]) == "postgres" && HasPort(arguments, port))
            {
                result["postgres"] = pid;
            }
        }

        var parent = services
            .Where(s => _target.Kafka is not null && s.Environment.GetValueOrDefault("ConnectionStrings__kafka") == _target.Kafka)
            .Select(s => s.Environment.GetValueOrDefault("TRULAYER_PARENT_PID"))
            .FirstOrDefault(p => p is not null);
        if (parent is null)
        {
            return result;
        }

        foreach (var service in services.Where(s => s.Environment.GetValueOrDefault("TRULAYER_PARENT_PID") == parent))
        {
            result[service.Environment.GetValueOrDefault("TRULAYER_INSTANCE") ?? service.Name] = service.Pid;
        }

        result["apphost"] = int.Parse(parent, CultureInfo.InvariantCulture);
        return result;
    }

    /// <summary>Every process below <paramref name="pid"/>, leaving out the subtrees of <paramref name="except"/>.</summary>
    private static List<int> Descendants(int pid, ILookup<int, int> children, IReadOnlySet<int> except)
    {
        var result = new List<int>();
        var pending = new Stack<int>([pid]);
        while (pending.TryPop(out var parent))
        {
            foreach (var child in children[parent].Where(c => !except.Contains(c)))
            {
                result.Add(child);
                pending.Push(child);
            }
        }

        return result;
    }

    private int? PostgresPort()
    {
        if (_target.Postgres is null)
        {
            return null;
        }

        var builder = new NpgsqlConnectionStringBuilder(_target.Postgres);
        return builder.Host is "127.0.0.1" or "localhost" or "::1" ? builder.Port : null;
    }

    private static bool HasPort(string[] arguments, int port)
    {
        var text = port.ToString(CultureInfo.InvariantCulture);
        for (var i = 0; i < arguments.Length; i++)
        {
            if ((arguments[i] == "-p" && i + 1 < arguments.Length && arguments[i + 1] == text) || arguments[i] == "-p" + text)
            {
                return true;
            }
        }

        return false;
    }

    private static IEnumerable<int> ProcessIds()
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                yield return pid;
            }
        }
    }

    private static string[] CommandLine(int pid) => ReadNulSeparated($"/proc/{pid}/cmdline");

    private static Dictionary<string, string> Environment(int pid)
        => ReadNulSeparated($"/proc/{pid}/environ")
            .Select(e => e.Split('=', 2))
            .Where(p => p.Length == 2)
            .GroupBy(p => p[0], StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Last()[1], StringComparer.Ordinal);

    private static string[] ReadNulSeparated(string path)
    {
        try
        {
            return Encoding.UTF8.GetString(File.ReadAllBytes(path)).Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
