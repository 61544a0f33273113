namespace Trulayer.AppHost.Run;

/// <summary>Where the stack's log lines go: one stream, each line prefixed with the resource it came from.</summary>
public interface ILogSink
{
    void Write(string resource, string line, bool isError = false);
}

/// <summary>The terminal: a colored, aligned prefix per resource; also appends each resource's lines to a file.</summary>
public sealed class ConsoleLogSink(string? logDirectory) : ILogSink
{
    private static readonly string[] Colors = ["\e[36m", "\e[33m", "\e[35m", "\e[32m", "\e[34m", "\e[96m", "\e[93m", "\e[95m"];
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (string Color, StreamWriter? File)> _resources = [];
    private readonly bool _color = !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null;

    public void Write(string resource, string line, bool isError = false)
    {
        lock (_lock)
        {
            if (!_resources.TryGetValue(resource, out var target))
            {
                target = (Colors[_resources.Count % Colors.Length], OpenFile(resource));
                _resources[resource] = target;
            }

            var prefix = resource.PadRight(9);
            Console.Out.WriteLine(_color ? $"{target.Color}{prefix}\e[0m| {(isError ? "\e[31m" + line + "\e[0m" : line)}" : $"{prefix}| {line}");
            target.File?.WriteLine(line);
        }
    }

    private StreamWriter? OpenFile(string resource)
    {
        if (logDirectory is null)
        {
            return null;
        }

        Directory.CreateDirectory(logDirectory);
        return new StreamWriter(Path.Combine(logDirectory, $"{resource}.log"), append: true) { AutoFlush = true };
    }
}
