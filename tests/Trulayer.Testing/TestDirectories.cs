using System.Diagnostics;
using System.Globalization;

namespace Trulayer.Testing;

/// <summary>
/// Throwaway folders for test clusters and stacks, under /var/tmp so the postgres user can reach them,
/// named after the test process so a later run can clean up after one that was killed.
/// </summary>
public static class TestDirectories
{
    public const string Root = "/var/tmp/trulayer-tests";

    private static readonly Lazy<bool> Cleaned = new(CleanStale);

    public static string Create(string purpose)
    {
        _ = Cleaned.Value;
        var path = Path.Combine(Root, $"{Environment.ProcessId}-{purpose}-{Guid.NewGuid().ToString("N")[..12]}");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Removes folders of test processes that are gone, stopping any PostgreSQL they left running.</summary>
    private static bool CleanStale()
    {
        Directory.CreateDirectory(Root);
        foreach (var directory in Directory.GetDirectories(Root))
        {
            var name = Path.GetFileName(directory);
            var dash = name.IndexOf('-', StringComparison.Ordinal);
            if (dash <= 0 || !int.TryParse(name[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || IsAlive(pid))
            {
                continue;
            }

            foreach (var pidFile in Directory.GetFiles(directory, "postmaster.pid", SearchOption.AllDirectories))
            {
                if (int.TryParse(File.ReadLines(pidFile).FirstOrDefault(), out var postmaster) && IsAlive(postmaster))
                {
                    // SIGQUIT: PostgreSQL's immediate shutdown.
                    using var kill = Process.Start("kill", ["-QUIT", postmaster.ToString(CultureInfo.InvariantCulture)]);
                    kill.WaitForExit();
                }
            }

            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return true;
    }

    private static bool IsAlive(int pid) => Directory.Exists($"/proc/{pid}");

    /// <summary>Deletes a folder made by <see cref="Create"/>, ignoring what cannot be deleted.</summary>
    public static void TryDelete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
