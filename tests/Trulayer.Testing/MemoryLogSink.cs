using System.Collections.Concurrent;
using Trulayer.AppHost.Run;

namespace Trulayer.Testing;

/// <summary>Keeps a test stack's log lines for assertions and for the failure message.</summary>
public sealed class MemoryLogSink : ILogSink
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IEnumerable<string> Lines => _lines;

    public void Write(string resource, string line, bool isError = false) => _lines.Enqueue($"{resource,-9}| {line}");

    /// <summary>The last lines, for a failure message.</summary>
    public string Tail(int count = 60) => string.Join('\n', _lines.TakeLast(count));
}
