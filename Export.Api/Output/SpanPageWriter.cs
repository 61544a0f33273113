using System.IO.Pipelines;
using Trulayer.Export.Storage;

namespace Trulayer.Export.Output;

/// <summary>
/// Writes one response's OTLP TracesData onto the response body as the spans arrive: <see cref="Begin"/>
/// with the page's groups, <see cref="BeginGroup"/> as each (resource, scope) group starts, every span of
/// it, then <see cref="End"/>. The caller flushes when <see cref="ShouldFlush"/> says so, which keeps the
/// buffered part of the response small whatever the page's size.
/// </summary>
internal abstract class SpanPageWriter(PipeWriter output)
{
    /// <summary>How much is buffered before the response is flushed to the client.</summary>
    protected const int FlushThreshold = 32 * 1024;

    protected PipeWriter Output { get; } = output;

    public abstract string ContentType { get; }

    public abstract bool ShouldFlush { get; }

    public abstract void Begin(IReadOnlyList<SpanGroup> groups);

    public abstract void BeginGroup(int index);

    /// <summary>Writes one span (in a LogsData writer, one log record) given as its stored protobuf bytes.</summary>
    public abstract void WriteSpan(ReadOnlySpan<byte> span);

    public abstract void End();

    public abstract ValueTask FlushAsync(CancellationToken cancellationToken);
}
