using System.IO.Pipelines;
using System.Text.Json;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using Trulayer.Export.Storage;
using Trulayer.Otlp.Json;

namespace Trulayer.Export.Output;

/// <summary>OTLP/JSON TracesData through the shared <see cref="OtlpJsonWriter"/>: one ResourceSpans per resource, one ScopeSpans per group.</summary>
internal sealed class JsonSpanPageWriter : SpanPageWriter
{
    public const string MediaType = "application/json";

    private readonly Utf8JsonWriter _json;
    private readonly OtlpJsonWriter _otlp;
    private IReadOnlyList<SpanGroup> _groups = [];
    private int _current = -1;
    private long _flushedBytes;

    public JsonSpanPageWriter(PipeWriter output)
        : base(output)
    {
        // The OTLP writer checks that starts and ends pair up; the JSON writer need not check again.
        _json = new Utf8JsonWriter((System.Buffers.IBufferWriter<byte>)output, new JsonWriterOptions { SkipValidation = true });
        _otlp = new OtlpJsonWriter(_json);
    }

    public override string ContentType => MediaType;

    // Not BytesPending alone: the JSON writer hands its output to the pipe whenever its buffer fills, and
    // what the pipe holds unflushed is not sent (nor bounded) until FlushAsync.
    public override bool ShouldFlush => _json.BytesCommitted + _json.BytesPending - _flushedBytes >= FlushThreshold;

    public override void Begin(IReadOnlyList<SpanGroup> groups)
    {
        _groups = groups;
        _otlp.WriteStartTracesData();
    }

    public override void BeginGroup(int index)
    {
        var group = _groups[index];
        var newResource = _current < 0 || !group.SameResource(_groups[_current]);
        if (_current >= 0)
        {
            _otlp.WriteEndScopeSpans();
            if (newResource)
            {
                _otlp.WriteEndResourceSpans();
            }
        }

        if (newResource)
        {
            _otlp.WriteStartResourceSpans(group.Resource.Length == 0 ? null : Resource.Parser.ParseFrom(group.Resource), group.ResourceSchemaUrl);
        }

        _otlp.WriteStartScopeSpans(group.Scope.Length == 0 ? null : InstrumentationScope.Parser.ParseFrom(group.Scope), group.ScopeSchemaUrl);
        _current = index;
    }

    public override void WriteSpan(ReadOnlySpan<byte> span) => _otlp.WriteSpan(span);

    public override void End()
    {
        if (_current >= 0)
        {
            _otlp.WriteEndScopeSpans();
            _otlp.WriteEndResourceSpans();
        }

        _otlp.WriteEndTracesData();
    }

    public override async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        _json.Flush();
        _flushedBytes = _json.BytesCommitted;
        await Output.FlushAsync(cancellationToken);
    }
}
