using System.Diagnostics;

namespace Trulayer.AppHost.Run;

/// <summary>
/// One service as a child process: its output into the log stream, restarted with backoff when it
/// crashes, stopped with SIGTERM (then SIGKILL after a grace period).
/// </summary>
internal sealed class ServiceProcess(
    string name,
    string assemblyPath,
    IReadOnlyDictionary<string, string> environment,
    ILogSink log,
    bool restartOnCrash)
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(60);

    private readonly Lock _lock = new();
    private Process? _process;
    private bool _stopRequested;
    private int _restarts;
    private TimeSpan _backoff = TimeSpan.FromSeconds(1);
    private DateTime _startedAt;

    public int? ProcessId { get { lock (_lock) { return _process is { HasExited: false } p ? p.Id : null; } } }

    public int Restarts => _restarts;

    public bool IsRunning => ProcessId is not null;

    public void Start()
    {
        if (!File.Exists(assemblyPath))
        {
            throw new PrerequisiteException($"{assemblyPath} is missing: build the solution first (`dotnet build Trulayer.sln`).");
        }

        lock (_lock)
        {
            _stopRequested = false;
            if (_process is { HasExited: false })
            {
                return;
            }

            var start = new ProcessStartInfo
            {
                FileName = DotnetHost.Path,
                WorkingDirectory = Path.GetDirectoryName(assemblyPath)!,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(assemblyPath);
            foreach (var (key, value) in environment)
            {
                start.Environment[key] = value;
            }

            var process = new Process { StartInfo = start, EnableRaisingEvents = true };
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) log.Write(name, e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) log.Write(name, e.Data, isError: true); };
            process.Exited += (_, _) => OnExited(process);
            DevKafkaBroker.TuneSocketsOfRunningBrokers();
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _process = process;
            _startedAt = DateTime.UtcNow;
        }
    }

    /// <summary>SIGTERM, then SIGKILL if it has not exited within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        Process? process;
        lock (_lock)
        {
            _stopRequested = true;
            process = _process;
        }

        if (process is null || process.HasExited)
        {
            return;
        }

        Native.Kill(process.Id, Native.SIGTERM);
        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            log.Write(name, $"did not stop within {grace.TotalSeconds:0} s; killing it", isError: true);
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>SIGKILL, as a crash would end it. Not restarted: call <see cref="Start"/> for that.</summary>
    public async Task KillAsync()
    {
        Process? process;
        lock (_lock)
        {
            _stopRequested = true;
            process = _process;
        }

        if (process is { HasExited: false })
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private void OnExited(Process process)
    {
        TimeSpan delay;
        lock (_lock)
        {
            if (_stopRequested || !ReferenceEquals(process, _process))
            {
                return;
            }

            if (!restartOnCrash)
            {
                log.Write(name, $"exited with code {process.ExitCode}", isError: true);
                return;
            }

            if (DateTime.UtcNow - _startedAt > StableAfter)
            {
                _backoff = TimeSpan.FromSeconds(1);
            }

            delay = _backoff;
            _backoff = TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, MaxBackoff.Ticks));
            _restarts++;
            log.Write(name, $"exited with code {process.ExitCode}; restarting in {delay.TotalSeconds:0} s (restart #{_restarts})", isError: true);
        }

        _ = Task.Delay(delay).ContinueWith(_ =>
        {
            lock (_lock)
            {
                if (_stopRequested || !ReferenceEquals(process, _process))
                {
                    return;
                }
            }

            try
            {
                Start();
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or PrerequisiteException)
            {
                log.Write(name, $"restart failed: {ex.Message}", isError: true);
            }
        }, TaskScheduler.Default);
    }
}

/// <summary>The dotnet host that runs the service assemblies: the one running us when it is dotnet itself.</summary>
internal static class DotnetHost
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        var self = Environment.ProcessPath;
        if (self is not null && System.IO.Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            return self;
        }

        var root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        foreach (var candidate in new[] { root is null ? null : System.IO.Path.Combine(root, "dotnet"), "/usr/share/dotnet/dotnet", "/usr/lib/dotnet/dotnet", "/usr/bin/dotnet" })
        {
            if (candidate is not null && File.Exists(candidate))
            {
                return candidate;
            }
        }

        return "dotnet";
    }
}
