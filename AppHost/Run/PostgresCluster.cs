using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Trulayer.AppHost.Run;

/// <summary>Where and how a private PostgreSQL cluster runs.</summary>
public sealed record PostgresClusterOptions
{
    /// <summary>The folder that holds (or will hold) the cluster; created when missing.</summary>
    public required string DataDirectory { get; init; }

    public required string Password { get; init; }

    public string UserName { get; init; } = "trulayer";

    /// <summary>The port to listen on; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>
    /// False for throwaway test clusters: no fsync, no full-page writes. Data survives a server crash
    /// only when true, so the developer's stack always runs durable.
    /// </summary>
    public bool Durable { get; init; } = true;

    /// <summary>The folder of initdb, pg_ctl and postgres; unset: the newest of Debian's (<see cref="PostgresCluster.FindBinaries"/>).</summary>
    public string? BinDirectory { get; init; }

    /// <summary>PostgreSQL's shared_buffers (e.g. "32MB"); unset: its default, 128MB.</summary>
    public string? SharedBuffers { get; init; }
}

/// <summary>
/// A private PostgreSQL cluster from Debian's binaries (initdb, pg_ctl). PostgreSQL refuses to run as
/// root, so when we are root it runs as the postgres user, which must be able to reach the folder.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private readonly PostgresClusterOptions _options;
    private readonly string _binDirectory;
    private readonly string? _runAs;
    private readonly Action<string> _log;

    private PostgresCluster(PostgresClusterOptions options, string binDirectory, string? runAs, int port, Action<string> log)
    {
        _options = options;
        _binDirectory = binDirectory;
        _runAs = runAs;
        _log = log;
        Port = port;
    }

    public int Port { get; }

    public string DataDirectory => _options.DataDirectory;

    public string LogFile => Path.Combine(Path.GetDirectoryName(_options.DataDirectory)!, "postgres.log");

    public bool IsRunning { get; private set; }

    /// <summary>The connection string of <paramref name="database"/> on this cluster.</summary>
    public string GetConnectionString(string database = "postgres") => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = _options.UserName,
        Password = _options.Password,
        Database = database,
    }.ConnectionString;

    /// <summary>Creates the cluster if the folder holds none, then starts it and waits until it accepts connections.</summary>
    public static async Task<PostgresCluster> StartAsync(PostgresClusterOptions options, Action<string> log, CancellationToken cancellationToken = default)
    {
        var binDirectory = options.BinDirectory ?? FindBinaries();
        var runAs = Native.IsRoot ? "postgres" : null;
        var port = options.Port != 0 ? options.Port : Ports.GetFree();
        var cluster = new PostgresCluster(options, binDirectory, runAs, port, log);
        await cluster.InitializeAsync(cancellationToken);
        await cluster.StartAsync(cancellationToken);
        return cluster;
    }

    /// <summary>
    /// The folder to keep a cluster in: <paramref name="preferred"/> when the postgres user can reach it,
    /// otherwise (a checkout under /root, say) a folder of its own under /var/tmp.
    /// </summary>
    public static async Task<string> ChooseDataDirectoryAsync(string preferred, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(preferred)!);
        if (!Native.IsRoot)
        {
            return preferred;
        }

        var reach = await CommandRunner.RunAsync("test", ["-x", Path.GetDirectoryName(preferred)!], "postgres", cancellationToken);
        if (reach.Succeeded)
        {
            return preferred;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(preferred)))[..12];
        return Path.Combine("/var/tmp", $"trulayer-{hash}", Path.GetFileName(preferred));
    }

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        var settings = new List<string>
        {
            $"-p {Port}",
            "-c listen_addresses=127.0.0.1",
            "-c unix_socket_directories=''",
            "-c max_connections=200",
        };
        if (_options.SharedBuffers is { } sharedBuffers)
        {
            settings.Add($"-c shared_buffers={sharedBuffers}");
        }

        if (!_options.Durable)
        {
            settings.AddRange(["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]);
        }

        var result = await PgCtlAsync(["-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "-o", string.Join(' ', settings), "start"], cancellationToken);
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"PostgreSQL did not start: {result.Output}\n{Tail(LogFile)}");
        }

        IsRunning = true;
        StartWatchdog();
        _log($"PostgreSQL {Path.GetFileName(Path.GetDirectoryName(_binDirectory))} listening on 127.0.0.1:{Port}, data in {DataDirectory}");
    }

    /// <summary>
    /// pg_ctl detaches the server from us, so if this process dies without stopping it (SIGKILL, a crash),
    /// a small shell loop does: it waits while we live and the server runs, then stops the server.
    /// </summary>
    private void StartWatchdog()
    {
        var stop = new List<string>();
        if (_runAs is not null)
        {
            stop.AddRange(["runuser", "-u", _runAs, "--"]);
        }

        stop.AddRange([Path.Combine(_binDirectory, "pg_ctl"), "-D", DataDirectory, "-m", "fast", "stop"]);
        var start = new System.Diagnostics.ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in (string[])[
            "-c",
            "while kill -0 \"$1\" 2>/dev/null && [ -e \"$2/postmaster.pid\" ]; do sleep 1; done; " +
            "if [ -e \"$2/postmaster.pid\" ]; then shift 2; exec \"$@\" >/dev/null 2>&1; fi",
            "postgres-watchdog",
            Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            DataDirectory,
            .. stop])
        {
            start.ArgumentList.Add(argument);
        }

        using var watchdog = System.Diagnostics.Process.Start(start);
    }

    /// <summary>Fast shutdown: ends sessions, checkpoints, stops. Nothing committed is lost.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (!IsRunning)
        {
            return;
        }

        var result = await PgCtlAsync(["-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "stop"], cancellationToken);
        IsRunning = false;
        if (!result.Succeeded)
        {
            _log($"pg_ctl stop failed: {result.Output}");
        }
    }

    /// <summary>Immediate shutdown, as a crash would end the server (recovery runs at the next start).</summary>
    public async Task KillAsync(CancellationToken cancellationToken = default)
    {
        await PgCtlAsync(["-D", DataDirectory, "-m", "immediate", "-w", "stop"], cancellationToken);
        IsRunning = false;
    }

    public async Task CreateDatabaseIfMissingAsync(string database, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(GetConnectionString());
        await connection.OpenAsync(cancellationToken);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection) { Parameters = { new() { Value = database } } };
        if (await exists.ExecuteScalarAsync(cancellationToken) is null)
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var parent = Path.GetDirectoryName(DataDirectory)!;
        Directory.CreateDirectory(DataDirectory);
        if (_runAs is not null)
        {
            await ChownAsync(parent, cancellationToken);
        }

        if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            // Left by an AppHost that was killed: stop that server so this run owns the cluster.
            var status = await PgCtlAsync(["-D", DataDirectory, "status"], cancellationToken);
            if (status.Succeeded)
            {
                _log("PostgreSQL from an earlier run is still up; stopping it first");
                IsRunning = true;
                await StopAsync(cancellationToken);
            }
        }

        if (File.Exists(Path.Combine(DataDirectory, "PG_VERSION")))
        {
            return;
        }

        var passwordFile = Path.Combine(parent, ".initdb-password");
        await File.WriteAllTextAsync(passwordFile, _options.Password, cancellationToken);
        try
        {
            File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            if (_runAs is not null)
            {
                await ChownAsync(passwordFile, cancellationToken);
            }

            var arguments = new List<string>
            {
                "-D", DataDirectory, "-U", _options.UserName, $"--pwfile={passwordFile}",
                "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8",
            };
            if (!_options.Durable)
            {
                arguments.Add("--no-sync");
            }

            var result = await CommandRunner.RunAsync(Path.Combine(_binDirectory, "initdb"), arguments, _runAs, cancellationToken);
            if (!result.Succeeded)
            {
                throw new InvalidOperationException($"initdb failed: {result.Output}");
            }

            _log($"created a PostgreSQL cluster in {DataDirectory}");
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    private Task<CommandRunner.Result> PgCtlAsync(IEnumerable<string> arguments, CancellationToken cancellationToken)
        => CommandRunner.RunAsync(Path.Combine(_binDirectory, "pg_ctl"), arguments, _runAs, cancellationToken);

    private async Task ChownAsync(string path, CancellationToken cancellationToken)
    {
        var result = await CommandRunner.RunAsync("chown", ["-R", $"{_runAs}:", path], cancellationToken: cancellationToken);
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"could not give {path} to the {_runAs} user: {result.Output}");
        }
    }

    /// <summary>The newest Debian PostgreSQL server's bin folder.</summary>
    public static string FindBinaries()
    {
        const string root = "/usr/lib/postgresql";
        var candidates = Directory.Exists(root)
            ? Directory.GetDirectories(root)
                .Select(d => (Directory: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
                .Where(c => File.Exists(Path.Combine(c.Directory, "pg_ctl")) && File.Exists(Path.Combine(c.Directory, "initdb")))
                .OrderByDescending(c => c.Version)
                .Select(c => c.Directory)
            : [];
        return candidates.FirstOrDefault()
               ?? throw new PrerequisiteException("PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql: install them with `apt-get install postgresql`.");
    }

    private static string Tail(string file)
        => File.Exists(file) ? string.Join('\n', File.ReadLines(file).TakeLast(15)) : "";
}
