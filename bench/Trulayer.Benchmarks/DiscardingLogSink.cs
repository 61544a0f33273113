using Trulayer.AppHost.Run;

namespace Trulayer.Benchmarks;

/// <summary>The services' log lines are not a benchmark's output.</summary>
internal sealed class DiscardingLogSink : ILogSink
{
    public void Write(string resource, string line, bool isError = false)
    {
    }
}
