using System.Globalization;
using Trulayer.AppHost.Model;

namespace Trulayer.AppHost.Run;

/// <summary>How many processes of each service a local run starts (<c>--replicas ingest=2,processor=2</c>).</summary>
public static class ReplicaCounts
{
    /// <summary>The most replicas of one service: each is a process of 40 to 200 MiB on a developer's machine.</summary>
    public const int Max = 8;

    /// <summary>Reads "service=count,service=count"; a <see cref="FormatException"/> says in words what is wrong.</summary>
    public static IReadOnlyDictionary<string, int> Parse(string text, AppModel model)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var item in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (item.Length == 0)
            {
                throw new FormatException($"--replicas takes service=count pairs separated by commas, as in ingest=2,processor=2; got '{text}'");
            }

            var parts = item.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts[0].Length == 0)
            {
                throw new FormatException($"--replicas: '{item}' has no count: write it as {(parts[0].Length == 0 ? "ingest" : parts[0])}=2");
            }

            if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count is < 1 or > Max)
            {
                throw new FormatException($"--replicas: the count in '{item}' must be a whole number from 1 to {Max}");
            }

            if (!counts.TryAdd(parts[0], count))
            {
                throw new FormatException($"--replicas: {parts[0]} is given twice");
            }
        }

        Check(counts, model);
        return counts;
    }

    /// <summary>Fails (<see cref="FormatException"/>) on a count the stack cannot run, naming the service and why.</summary>
    public static void Check(IReadOnlyDictionary<string, int> counts, AppModel model)
    {
        var replicable = model.Projects.Where(p => p.CanRunReplicasLocally).Select(p => p.Name).Order(StringComparer.Ordinal).ToList();
        foreach (var (name, count) in counts)
        {
            var project = model.Projects.FirstOrDefault(p => p.Name == name);
            if (project is null)
            {
                throw new FormatException($"--replicas: '{name}' is not a service of the stack ({string.Join(", ", model.Projects.Select(p => p.Name))})");
            }

            if (count is < 1 or > Max)
            {
                throw new FormatException($"--replicas: {name} can run 1 to {Max} replicas, not {count}");
            }

            if (count > 1 && !project.CanRunReplicasLocally)
            {
                throw new FormatException(
                    $"--replicas: {name} runs once locally; only {string.Join(" and ", replicable)} can run as several replicas " +
                    $"({(project.Endpoints.Any(e => e.IsExternal) ? $"{name} holds the stack's public ports" : $"what calls {name} knows one address of it")})");
            }
        }
    }
}
