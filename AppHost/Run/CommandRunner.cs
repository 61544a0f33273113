using System.Diagnostics;

namespace Trulayer.AppHost.Run;

/// <summary>Runs a short command to completion and captures what it printed.</summary>
internal static class CommandRunner
{
    public sealed record Result(int ExitCode, string Output)
    {
        public bool Succeeded => ExitCode == 0;
    }

    /// <summary>Runs <paramref name="fileName"/>, as <paramref name="runAs"/> through runuser when given.</summary>
    public static async Task<Result> RunAsync(string fileName, IEnumerable<string> arguments, string? runAs = null, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo
        {
            FileName = runAs is null ? fileName : "runuser",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (runAs is not null)
        {
            foreach (var argument in new[] { "-u", runAs, "--", fileName })
            {
                start.ArgumentList.Add(argument);
            }
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return new Result(process.ExitCode, (await stdout + await stderr).Trim());
    }
}
