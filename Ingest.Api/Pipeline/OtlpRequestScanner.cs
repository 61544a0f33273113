using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Trulayer.Otlp.Protobuf;

namespace Trulayer.Ingest.Pipeline;

/// <summary>A request with more spans or log records than one request may carry (413).</summary>
public sealed class TooManySpansException(int limit, string items = "spans")
    : Exception($"the request holds more than {limit} {items}; send at most {limit} {items} per request")
{
    public int Limit { get; } = limit;
}

/// <summary>The field names of one signal's request, for error messages (<c>resource_spans</c>, <c>scope_spans</c>, <c>spans</c>).</summary>
public sealed record OtlpSignalNames(string Resources, string Scopes, string Items)
{
    public static readonly OtlpSignalNames Traces = new("resource_spans", "scope_spans", "spans");
    public static readonly OtlpSignalNames Logs = new("resource_logs", "scope_logs", "log_records");

    /// <summary>How partial_success messages name the items: "spans", "log records".</summary>
    public string Noun => Items.Replace('_', ' ');
}

/// <summary>
/// Reads an OTLP export request (<c>ExportTraceServiceRequest</c> or <c>ExportLogsServiceRequest</c>: both
/// are resources holding scopes holding items, with the same field numbers) in place: it walks every field
/// to check the structure (so what it forwards parses downstream) but builds no message objects. Items are
/// kept as slices of the request, grouped by trace id, for <see cref="SpanBatchComposer"/> to copy into Kafka
/// records; only an item that must be truncated is decoded and re-encoded. What an item is and how it is
/// validated is the signal's (<see cref="ExportRequestScanner"/>, <see cref="LogsRequestScanner"/>).
/// Malformed protobuf throws <see cref="ProtobufFormatException"/> naming the element
/// (<c>resource_spans[0].scope_spans[1].spans[2]</c>).
/// </summary>
public abstract class OtlpRequestScanner
{
    private const int RequestResources = 1;
    private const int ResourceChildren = 2;

    // Where a ResourceSpans/ResourceLogs keeps its resource (and that its attributes and entity refs) and a
    // ScopeSpans/ScopeLogs its scope (and that its attributes).
    private static readonly HeaderShape ResourceHeader = new(ResourceChildren, Holder: 1, HolderAttributes: 1, HolderEntityRefs: 3);
    private static readonly HeaderShape ScopeHeader = new(Children: 2, Holder: 1, HolderAttributes: 3, HolderEntityRefs: 0);

    private readonly OtlpSignalNames _names;
    private readonly int _maxKey;
    private readonly int _maxValue;

    protected OtlpRequestScanner(IngestOptions limits, OtlpSignalNames names)
    {
        Limits = limits;
        _names = names;
        _maxKey = limits.MaxAttributeKeyBytes;
        _maxValue = limits.MaxAttributeValueBytes;
    }

    protected IngestOptions Limits { get; }

    /// <summary>The most items one request may carry (more is 413).</summary>
    protected abstract int MaxItemsPerRequest { get; }

    /// <summary>Items under a resource with more attributes than this are rejected.</summary>
    protected virtual int MaxResourceAttributes => int.MaxValue;

    /// <summary>
    /// Reads one item: its rejection, or null with the start of its 16-byte trace id (-1 when it names no
    /// trace) and what must be cut from it.
    /// </summary>
    protected abstract RejectReason? ScanItem(ReadOnlySpan<byte> buffer, int start, int end, ulong minStart, out int traceIdStart, out Truncations truncations);

    /// <summary>The item re-encoded within the limits (the slow path, for items <see cref="ScanItem"/> flagged).</summary>
    protected abstract byte[] Truncate(ReadOnlySpan<byte> item);

    /// <summary>Scans <paramref name="payload"/>, which must stay unchanged while the result is in use.</summary>
    public ScannedExport Scan(ReadOnlyMemory<byte> payload, ulong nowUnixNano)
    {
        var result = new ScannedExport(payload, _names.Noun);
        var minStart = Limits.RetentionDays is { } days ? nowUnixNano - Math.Min(nowUnixNano, (ulong)days * 86_400_000_000_000UL) : 0;
        var position = new Position(_names);
        try
        {
            var buffer = payload.Span;
            var reader = new ProtoWireReader(buffer);
            while (reader.TryReadTag(out var field, out var wireType))
            {
                if (field == RequestResources && wireType == WireType.LengthDelimited)
                {
                    var start = reader.ReadLengthDelimited(out var length);
                    ScanResource(buffer, start, start + length, result, ref position, minStart);
                    position.Resource++;
                }
                else
                {
                    reader.Skip(wireType);
                }
            }
        }
        catch (ProtobufFormatException ex)
        {
            throw new ProtobufFormatException($"{position}: {ex.Message}");
        }

        return result;
    }

    private void ScanResource(ReadOnlySpan<byte> buffer, int start, int end, ScannedExport result, ref Position position, ulong minStart)
    {
        var header = ScanHeader(buffer, start, end, result, ResourceHeader, ref position.InResource, out var attributes);
        var resourceIndex = result.EndResourceHeader(header);
        var overLimit = attributes > MaxResourceAttributes;

        // Pass 2: the scopes.
        var reader = new ProtoWireReader(buffer, start, end);
        position.Scope = 0;
        while (reader.TryReadTag(out var field, out var wireType))
        {
            if (field == ResourceChildren && wireType == WireType.LengthDelimited)
            {
                var s = reader.ReadLengthDelimited(out var l);
                ScanScope(buffer, s, s + l, resourceIndex, overLimit, result, ref position, minStart);
                position.Scope++;
            }
            else
            {
                reader.Skip(wireType);
            }
        }

        position.Scope = -1;
    }

    private void ScanScope(ReadOnlySpan<byte> buffer, int start, int end, int resourceIndex, bool resourceOverLimit, ScannedExport result, ref Position position, ulong minStart)
    {
        var scopeIndex = result.EndScopeHeader(ScanHeader(buffer, start, end, result, ScopeHeader, ref position.InScope, out _), resourceIndex);

        var reader = new ProtoWireReader(buffer, start, end);
        position.Item = 0;
        var tally = result.Tally;
        while (reader.TryReadTag(out var field, out var wireType))
        {
            if (field != ScopeHeader.Children || wireType != WireType.LengthDelimited)
            {
                reader.Skip(wireType);
                continue;
            }

            var s = reader.ReadLengthDelimited(out var l);
            if (++tally.Received > MaxItemsPerRequest)
            {
                throw new TooManySpansException(MaxItemsPerRequest, _names.Noun);
            }

            var rejection = ScanItem(buffer, s, s + l, minStart, out var traceIdStart, out var truncations);
            if (rejection is null && resourceOverLimit)
            {
                rejection = RejectReason.TooManyResourceAttributes;
            }

            if (rejection is { } reason)
            {
                tally.Reject(reason);
            }
            else
            {
                byte[]? rewritten = null;
                if (truncations != Truncations.None)
                {
                    try
                    {
                        rewritten = Truncate(buffer.Slice(s, l));
                    }
                    catch (InvalidProtocolBufferException ex)
                    {
                        // What the generated parser refuses, the processor could not read either.
                        throw new ProtobufFormatException(ex.Message);
                    }

                    tally.Truncate(truncations);
                }

                result.AddSpan(s, l, scopeIndex, traceIdStart < 0 ? default : buffer.Slice(traceIdStart, 16), rewritten);
            }

            position.Item++;
        }

        position.Item = -1;
    }

    /// <summary>
    /// Pass 1 over a resource's or scope's wrapper: every field but its children is its header, copied into
    /// every record verbatim; the resource or scope in it is checked (<paramref name="inHolder"/> set
    /// meanwhile, for the error path). Returns the header's first segment.
    /// </summary>
    private int ScanHeader(ReadOnlySpan<byte> buffer, int start, int end, ScannedExport result, HeaderShape shape, ref bool inHolder, out int holderAttributes)
    {
        holderAttributes = 0;
        var header = result.BeginHeader();
        var reader = new ProtoWireReader(buffer, start, end);
        while (true)
        {
            var fieldStart = reader.Position;
            if (!reader.TryReadTag(out var field, out var wireType))
            {
                break;
            }

            if (field == shape.Children && wireType == WireType.LengthDelimited)
            {
                reader.ReadLengthDelimited(out _);
                continue;
            }

            if (field == shape.Holder && wireType == WireType.LengthDelimited)
            {
                var s = reader.ReadLengthDelimited(out var l);
                inHolder = true;
                holderAttributes += ValidateAttributesHolder(buffer, s, s + l, shape.HolderAttributes, shape.HolderEntityRefs);
                inHolder = false;
            }
            else
            {
                reader.Skip(wireType);
            }

            result.AddHeaderSegment(fieldStart, reader.Position - fieldStart);
        }

        return header;
    }

    protected static bool IsZero(ReadOnlySpan<byte> id) => id.IndexOfAnyExcept((byte)0) < 0;

    /// <summary>
    /// A message that holds children (scopes, items) beside a header: the field of its children, of
    /// the resource or scope in its header, and that one's attributes and entity refs (0 for none).
    /// </summary>
    private readonly record struct HeaderShape(int Children, int Holder, int HolderAttributes, int HolderEntityRefs);

    protected struct ValueProblems
    {
        public Truncations Truncations;
        public bool TooDeep;
    }

    /// <summary>An event or a link: its attributes are bounded like the span's or log record's.</summary>
    protected void ScanAttributesHolder(ReadOnlySpan<byte> buffer, int start, int end, int attributesField, ref ValueProblems problems)
    {
        var count = 0;
        var reader = new ProtoWireReader(buffer, start, end);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            if (field == attributesField && wireType == WireType.LengthDelimited)
            {
                count++;
                var s = reader.ReadLengthDelimited(out var l);
                ScanAttribute(buffer, s, s + l, ref problems);
            }
            else
            {
                reader.Skip(wireType);
            }
        }

        if (count > Limits.MaxAttributesPerSpan)
        {
            problems.Truncations |= Truncations.TooManyAttributes;
        }
    }

    /// <summary>A resource or a scope: checks the structure of its attributes (and, for a resource, its entity refs); returns how many attributes it has.</summary>
    private int ValidateAttributesHolder(ReadOnlySpan<byte> buffer, int start, int end, int attributesField, int nestedField)
    {
        var problems = new ValueProblems();
        var count = 0;
        var reader = new ProtoWireReader(buffer, start, end);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            if (field == attributesField && wireType == WireType.LengthDelimited)
            {
                count++;
                var s = reader.ReadLengthDelimited(out var l);
                ScanKeyValue(buffer, s, s + l, 0, checkKey: false, ref problems);
            }
            else if (field == nestedField && wireType == WireType.LengthDelimited)
            {
                var s = reader.ReadLengthDelimited(out var l);
                ScanFlat(buffer, s, s + l);
            }
            else
            {
                reader.Skip(wireType);
            }
        }

        if (problems.TooDeep)
        {
            throw new ProtobufFormatException($"attribute values nested deeper than {IngestOptions.MaxValueDepth} levels");
        }

        return count;
    }

    /// <summary>A span's, event's, link's or log record's attribute: bounded key and value.</summary>
    protected void ScanAttribute(ReadOnlySpan<byte> buffer, int start, int end, ref ValueProblems problems)
    {
        if (!TryScanSimpleAttribute(buffer.Slice(start, end - start), ref problems))
        {
            ScanKeyValue(buffer, start, end, 0, checkKey: true, ref problems);
        }
    }

    /// <summary>
    /// The common attribute, checked without the general walk: a key followed by a value holding one
    /// string, bytes, bool, int or double, in the order and encoding every SDK writes. False (nothing
    /// decided) for anything else, which the general walk then reads.
    /// </summary>
    private bool TryScanSimpleAttribute(ReadOnlySpan<byte> keyValue, ref ValueProblems problems)
    {
        var at = 1;
        if (keyValue.Length < 4 || keyValue[0] != 0x0A || !TryReadShortVarint(keyValue, ref at, out var keyLength) || keyLength > keyValue.Length - at)
        {
            return false;
        }

        at += keyLength;
        if (at >= keyValue.Length || keyValue[at++] != 0x12 || !TryReadShortVarint(keyValue, ref at, out var valueLength) || valueLength != keyValue.Length - at)
        {
            return false;
        }

        var value = keyValue[at..];
        if (value.IsEmpty)
        {
            return CheckKey(keyLength, ref problems);
        }

        var valueAt = 1;
        switch (value[0])
        {
            case 0x0A or 0x3A: // string_value, bytes_value
                if (!TryReadShortVarint(value, ref valueAt, out var length) || length != value.Length - valueAt)
                {
                    return false;
                }

                if (length > _maxValue)
                {
                    problems.Truncations |= Truncations.ValueTooLarge;
                }

                return CheckKey(keyLength, ref problems);
            case 0x10 or 0x18: // bool_value, int_value: a varint ending the value
                while (valueAt < value.Length && valueAt <= 10 && value[valueAt] >= 0x80)
                {
                    valueAt++;
                }

                return valueAt == value.Length - 1 && valueAt <= 10 && CheckKey(keyLength, ref problems);
            case 0x21: // double_value
                return value.Length == 9 && CheckKey(keyLength, ref problems);
            default:
                return false;
        }
    }

    private bool CheckKey(int keyLength, ref ValueProblems problems)
    {
        if (keyLength > _maxKey)
        {
            problems.Truncations |= Truncations.KeyTooLong;
        }

        return true;
    }

    /// <summary>A varint of at most 3 bytes (lengths below 2 MiB); false for anything longer.</summary>
    private static bool TryReadShortVarint(ReadOnlySpan<byte> bytes, ref int at, out int value)
    {
        var p = at;
        if (p < bytes.Length && bytes[p] < 0x80)
        {
            value = bytes[p];
            at = p + 1;
            return true;
        }

        if (p + 1 < bytes.Length && bytes[p + 1] < 0x80)
        {
            value = (bytes[p] & 0x7F) | (bytes[p + 1] << 7);
            at = p + 2;
            return true;
        }

        if (p + 2 < bytes.Length && bytes[p + 2] < 0x80)
        {
            value = (bytes[p] & 0x7F) | ((bytes[p + 1] & 0x7F) << 7) | (bytes[p + 2] << 14);
            at = p + 3;
            return true;
        }

        value = 0;
        return false;
    }

    private void ScanKeyValue(ReadOnlySpan<byte> buffer, int start, int end, int depth, bool checkKey, ref ValueProblems problems)
    {
        var reader = new ProtoWireReader(buffer, start, end);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            if (field == 1 && wireType == WireType.LengthDelimited)
            {
                reader.ReadLengthDelimited(out var keyLength);
                if (checkKey && keyLength > _maxKey)
                {
                    problems.Truncations |= Truncations.KeyTooLong;
                }
            }
            else if (field == 2 && wireType == WireType.LengthDelimited)
            {
                var s = reader.ReadLengthDelimited(out var l);
                ScanAnyValue(buffer, s, s + l, depth + 1, ref problems);
            }
            else
            {
                reader.Skip(wireType);
            }
        }
    }

    protected void ScanAnyValue(ReadOnlySpan<byte> buffer, int start, int end, int depth, ref ValueProblems problems)
    {
        if (depth > IngestOptions.MaxValueDepth)
        {
            problems.TooDeep = true;
            return;
        }

        var reader = new ProtoWireReader(buffer, start, end);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            if (wireType != WireType.LengthDelimited)
            {
                reader.Skip(wireType);
                continue;
            }

            var s = reader.ReadLengthDelimited(out var l);
            if (field is 1 or 5 or 6 or 7 && l > _maxValue)
            {
                problems.Truncations |= Truncations.ValueTooLarge;
            }

            if (field is 5 or 6)
            {
                // ArrayValue and KeyValueList both hold their items in field 1.
                var items = new ProtoWireReader(buffer, s, s + l);
                while (items.TryReadTag(out var itemField, out var itemWireType))
                {
                    if (itemField == 1 && itemWireType == WireType.LengthDelimited)
                    {
                        var itemStart = items.ReadLengthDelimited(out var itemLength);
                        if (field == 5)
                        {
                            ScanAnyValue(buffer, itemStart, itemStart + itemLength, depth + 1, ref problems);
                        }
                        else
                        {
                            ScanKeyValue(buffer, itemStart, itemStart + itemLength, depth, checkKey: false, ref problems);
                        }
                    }
                    else
                    {
                        items.Skip(itemWireType);
                    }
                }
            }
        }
    }

    /// <summary>Checks the structure of a message whose fields are all scalars or strings.</summary>
    protected static void ScanFlat(ReadOnlySpan<byte> buffer, int start, int end)
    {
        var reader = new ProtoWireReader(buffer, start, end);
        while (reader.TryReadTag(out _, out var wireType))
        {
            reader.Skip(wireType);
        }
    }

    /// <summary>Where the scan is, for error messages.</summary>
    private struct Position(OtlpSignalNames names)
    {
        public int Resource;
        public int Scope = -1;
        public int Item = -1;
        public bool InResource;
        public bool InScope;

        public override readonly string ToString()
        {
            var text = $"{names.Resources}[{Resource}]";
            if (InResource)
            {
                return text + ".resource";
            }

            if (Scope >= 0)
            {
                text += $".{names.Scopes}[{Scope}]";
                if (InScope)
                {
                    return text + ".scope";
                }

                if (Item >= 0)
                {
                    text += $".{names.Items}[{Item}]";
                }
            }

            return text;
        }
    }
}

/// <summary>
/// The outcome of <see cref="ExportRequestScanner"/>: accepted spans as slices of the request (or
/// rewritten bytes), each resource's and scope's other fields as raw segments, and the spans grouped by
/// trace id in request order.
/// </summary>
public sealed class ScannedExport
{
    internal readonly record struct Segment(int Start, int Length);

    /// <summary>A resource's or scope's fields other than its children, as raw segments of the request.</summary>
    internal readonly record struct Header(int FirstSegment, int SegmentCount, int Bytes, int Resource);

    internal struct SpanEntry
    {
        public int Start;
        public int Length;
        public int Scope;
        public int Next;
        public byte[]? Rewritten;

        public readonly int EncodedLength => Rewritten?.Length ?? Length;
    }

    internal struct TraceGroup
    {
        public UInt128 TraceId;
        public int First;
        public int Last;
        public int Count;
    }

    private readonly List<Segment> _segments = [];
    private readonly List<Header> _resources = [];
    private readonly List<Header> _scopes = [];
    private readonly List<SpanEntry> _spans = [];
    private readonly List<TraceGroup> _groups = [];
    private readonly Dictionary<UInt128, int> _groupByTrace = [];
    private int _lastGroup = -1;
    private int _headerStart;

    internal ScannedExport(ReadOnlyMemory<byte> payload, string noun)
    {
        Payload = payload;
        Tally = new SpanTally(noun);
    }

    public ReadOnlyMemory<byte> Payload { get; }

    public SpanTally Tally { get; }

    /// <summary>How many distinct traces the accepted spans belong to.</summary>
    public int TraceCount => _groups.Count;

    internal ReadOnlySpan<Segment> Segments => CollectionsMarshal.AsSpan(_segments);

    internal ReadOnlySpan<Header> Resources => CollectionsMarshal.AsSpan(_resources);

    internal ReadOnlySpan<Header> Scopes => CollectionsMarshal.AsSpan(_scopes);

    internal ReadOnlySpan<SpanEntry> Spans => CollectionsMarshal.AsSpan(_spans);

    /// <summary>The accepted items, to be rewritten in place (<see cref="ContentPolicyFilter"/>) before they are composed.</summary>
    internal Span<SpanEntry> RewritableSpans => CollectionsMarshal.AsSpan(_spans);

    internal ReadOnlySpan<TraceGroup> Groups => CollectionsMarshal.AsSpan(_groups);

    internal int BeginHeader() => _headerStart = _segments.Count;

    internal void AddHeaderSegment(int start, int length)
    {
        // Adjacent fields of one header (resource then schema_url, say) become one copy.
        if (_segments.Count > _headerStart && _segments[^1] is var last && last.Start + last.Length == start)
        {
            _segments[^1] = last with { Length = last.Length + length };
        }
        else
        {
            _segments.Add(new Segment(start, length));
        }
    }

    internal int EndResourceHeader(int firstSegment) => AddHeader(_resources, firstSegment, -1);

    internal int EndScopeHeader(int firstSegment, int resource) => AddHeader(_scopes, firstSegment, resource);

    private int AddHeader(List<Header> headers, int firstSegment, int resource)
    {
        var bytes = 0;
        for (var i = firstSegment; i < _segments.Count; i++)
        {
            bytes += _segments[i].Length;
        }

        headers.Add(new Header(firstSegment, _segments.Count - firstSegment, bytes, resource));
        return headers.Count - 1;
    }

    internal void AddSpan(int start, int length, int scope, ReadOnlySpan<byte> traceId, byte[]? rewritten)
    {
        // Items that name no trace (log records may not) form one group of their own, trace id 0.
        var key = traceId.IsEmpty ? UInt128.Zero : BinaryPrimitives.ReadUInt128BigEndian(traceId);
        var index = _spans.Count;
        _spans.Add(new SpanEntry { Start = start, Length = length, Scope = scope, Next = -1, Rewritten = rewritten });

        // Spans of one trace usually arrive together: check the last group before the dictionary.
        int group;
        if (_lastGroup >= 0 && _groups[_lastGroup].TraceId == key)
        {
            group = _lastGroup;
        }
        else if (!_groupByTrace.TryGetValue(key, out group))
        {
            group = _groups.Count;
            _groups.Add(new TraceGroup { TraceId = key, First = index, Last = index });
            _groupByTrace.Add(key, group);
        }

        _lastGroup = group;
        ref var entry = ref CollectionsMarshal.AsSpan(_groups)[group];
        if (entry.Count > 0)
        {
            CollectionsMarshal.AsSpan(_spans)[entry.Last].Next = index;
            entry.Last = index;
        }

        entry.Count++;
    }
}
