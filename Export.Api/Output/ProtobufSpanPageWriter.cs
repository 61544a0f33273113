using System.IO.Pipelines;
using System.Text;
using Trulayer.Export.Storage;
using Trulayer.Otlp.Protobuf;

namespace Trulayer.Export.Output;

/// <summary>
/// Protobuf TracesData (opentelemetry.proto.trace.v1), written front to back without buffering a
/// message: the groups announce every ScopeSpans' and ResourceSpans' size before their spans are read,
/// so each length prefix is exact when it is written. Spans go out as the bytes stored, exactly as
/// received (unknown fields included).
/// </summary>
internal sealed class ProtobufSpanPageWriter(PipeWriter output) : SpanPageWriter(output)
{
    public const string MediaType = "application/x-protobuf";

    // TracesData.resource_spans = 1; ResourceSpans: resource = 1, scope_spans = 2, schema_url = 3;
    // ScopeSpans: scope = 1, spans = 2, schema_url = 3.
    private const int ResourceSpansField = 1;
    private const int ResourceField = 1;
    private const int ScopeSpansField = 2;
    private const int ScopeField = 1;
    private const int SpansField = 2;
    private const int SchemaUrlField = 3;

    private IReadOnlyList<SpanGroup> _groups = [];
    private byte[][] _scopeSchemaUrls = [];
    private byte[][] _resourceSchemaUrls = [];
    private int _current = -1;
    private long _pending;

    public override string ContentType => MediaType;

    public override bool ShouldFlush => _pending >= FlushThreshold;

    public override void Begin(IReadOnlyList<SpanGroup> groups)
    {
        _groups = groups;
        _scopeSchemaUrls = [.. groups.Select(g => Encoding.UTF8.GetBytes(g.ScopeSchemaUrl))];
        _resourceSchemaUrls = [.. groups.Select(g => Encoding.UTF8.GetBytes(g.ResourceSchemaUrl))];
    }

    public override void BeginGroup(int index)
    {
        var group = _groups[index];
        var newResource = _current < 0 || !group.SameResource(_groups[_current]);
        if (_current >= 0)
        {
            EndGroup(_current, endsResource: newResource);
        }

        if (newResource)
        {
            WriteLengthPrefix(ResourceSpansField, ResourceSpansSize(index));
            WriteBytesField(ResourceField, group.Resource);
        }

        WriteLengthPrefix(ScopeSpansField, ScopeSpansSize(index));
        WriteBytesField(ScopeField, group.Scope);
        _current = index;
    }

    public override void WriteSpan(ReadOnlySpan<byte> span)
    {
        WriteLengthPrefix(SpansField, span.Length);
        WriteRaw(span);
    }

    public override void End()
    {
        if (_current >= 0)
        {
            EndGroup(_current, endsResource: true);
        }
    }

    public override async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        _pending = 0;
        await Output.FlushAsync(cancellationToken);
    }

    private void EndGroup(int index, bool endsResource)
    {
        WriteBytesField(SchemaUrlField, _scopeSchemaUrls[index]);
        if (endsResource)
        {
            WriteBytesField(SchemaUrlField, _resourceSchemaUrls[index]);
        }
    }

    /// <summary>A ScopeSpans' content: its scope, its spans, its schema URL.</summary>
    private long ScopeSpansSize(int index)
        => OptionalFieldSize(ScopeField, _groups[index].Scope.Length) + _groups[index].SpanFieldBytes + OptionalFieldSize(SchemaUrlField, _scopeSchemaUrls[index].Length);

    /// <summary>A ResourceSpans' content: its resource, the ScopeSpans of its consecutive groups, its schema URL.</summary>
    private long ResourceSpansSize(int first)
    {
        var size = OptionalFieldSize(ResourceField, _groups[first].Resource.Length) + OptionalFieldSize(SchemaUrlField, _resourceSchemaUrls[first].Length);
        for (var i = first; i < _groups.Count && _groups[i].SameResource(_groups[first]); i++)
        {
            size += FieldSize(ScopeSpansField, ScopeSpansSize(i));
        }

        return size;
    }

    private static long OptionalFieldSize(int field, long length) => length == 0 ? 0 : FieldSize(field, length);

    private static long FieldSize(int field, long length)
        => ProtoWire.VarintSize(ProtoWire.Tag(field, WireType.LengthDelimited)) + ProtoWire.VarintSize((ulong)length) + length;

    private void WriteBytesField(int field, ReadOnlySpan<byte> value)
    {
        if (value.Length > 0)
        {
            WriteLengthPrefix(field, value.Length);
            WriteRaw(value);
        }
    }

    private void WriteLengthPrefix(int field, long length)
    {
        var destination = Output.GetSpan(20);
        var written = ProtoWire.WriteVarint(destination, ProtoWire.Tag(field, WireType.LengthDelimited));
        written += ProtoWire.WriteVarint(destination[written..], (ulong)length);
        Output.Advance(written);
        _pending += written;
    }

    private void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        while (bytes.Length > 0)
        {
            var destination = Output.GetSpan(Math.Min(bytes.Length, 16 * 1024));
            var count = Math.Min(destination.Length, bytes.Length);
            bytes[..count].CopyTo(destination);
            Output.Advance(count);
            bytes = bytes[count..];
            _pending += count;
        }
    }
}
