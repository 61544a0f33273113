using Trulayer.AppHost.Run;

namespace Trulayer.Testing;

/// <summary>
/// A private copy of Debian's PostgreSQL installation whose extension folder also holds a stand-in
/// <c>timescaledb</c> extension (a control file and an empty script), for testing what the services do
/// on a server where TimescaleDB is installed but not preloaded. TimescaleDB itself is in no package
/// source these machines reach. The system installation is left untouched: PostgreSQL finds its share
/// folder relative to the running binary, so the binaries are copied (a symlink would resolve back to
/// the system's) and everything else is linked.
/// </summary>
public sealed class StandInTimescaleInstallation : IDisposable
{
    private const string SystemShare = "/usr/share/postgresql";

    private readonly string _root;

    private StandInTimescaleInstallation(string root, string binDirectory)
    {
        _root = root;
        BinDirectory = binDirectory;
    }

    /// <summary>The copied bin folder: pass it as <see cref="PostgresClusterOptions.BinDirectory"/>.</summary>
    public string BinDirectory { get; }

    public static StandInTimescaleInstallation Create()
    {
        var systemBin = PostgresCluster.FindBinaries();
        var versionDirectory = Path.GetDirectoryName(systemBin)!;   // /usr/lib/postgresql/15
        var version = Path.GetFileName(versionDirectory);
        var systemShare = Path.Combine(SystemShare, version);
        var extensions = Path.Combine(systemShare, "extension");
        if (File.Exists(Path.Combine(extensions, "timescaledb.control")))
        {
            throw new InvalidOperationException("TimescaleDB is installed on this machine: the stand-in would hide it");
        }

        var root = TestDirectories.Create("timescale-stand-in");
        var lib = Path.Combine(root, "usr", "lib", "postgresql", version);
        var share = Path.Combine(root, "usr", "share", "postgresql", version);
        Directory.CreateDirectory(lib);
        Directory.CreateDirectory(Path.Combine(share, "extension"));

        var bin = Path.Combine(lib, "bin");
        Directory.CreateDirectory(bin);
        foreach (var file in Directory.EnumerateFiles(systemBin))
        {
            File.Copy(file, Path.Combine(bin, Path.GetFileName(file)));   // keeps the mode: still executable
        }

        File.CreateSymbolicLink(Path.Combine(lib, "lib"), Path.Combine(versionDirectory, "lib"));
        foreach (var entry in Directory.EnumerateFileSystemEntries(systemShare).Where(e => e != extensions))
        {
            File.CreateSymbolicLink(Path.Combine(share, Path.GetFileName(entry)), entry);
        }

        foreach (var file in Directory.EnumerateFiles(extensions))
        {
            File.CreateSymbolicLink(Path.Combine(share, "extension", Path.GetFileName(file)), file);
        }

        File.WriteAllText(Path.Combine(share, "extension", "timescaledb.control"),
            "comment = 'a stand-in for TimescaleDB, installed but never preloaded'\ndefault_version = '2.99.0'\nrelocatable = false\n");
        File.WriteAllText(Path.Combine(share, "extension", "timescaledb--2.99.0.sql"), "");
        return new StandInTimescaleInstallation(root, bin);
    }

    public void Dispose() => TestDirectories.TryDelete(_root);
}
