using System.Buffers.Binary;
using System.Text;
using Trulayer.Otlp.Protobuf;

namespace Trulayer.Ingest.Pipeline;

/// <summary>
/// One Kafka record: key <c>&lt;project_id&gt;:&lt;trace_id hex&gt;</c> (<c>&lt;project_id&gt;:</c> for log
/// records that name no trace), value an encoded <c>SpanBatch</c> or <c>LogBatch</c>; <c>SpanCount</c> counts
/// its spans or log records.
/// </summary>
public sealed record SpanRecord(string Key, byte[] Value, int SpanCount);

/// <summary>
/// Builds the Kafka records of a scanned request: one <c>SpanBatch</c> (or <c>LogBatch</c>: the same fields
/// 1 to 5, resource_spans and resource_logs alike field 4) per trace, or several with the same key when a
/// trace's items do not fit in one record; log records without a trace form one group of their own. The encoding is assembled from the request's own
/// bytes: each span, resource and scope is copied as received, so a record costs a few memory copies and
/// no protobuf encoding. Sizes are known before writing (every piece is a slice of known length), so
/// each record is written once into an array of its exact size.
/// </summary>
public static class SpanBatchComposer
{
    // SpanBatch fields (trulayer/pipeline/v1/span_batch.proto), and the OTLP fields they nest.
    private const int BatchProjectId = 1;
    private const int BatchTraceId = 2;
    private const int BatchReceivedTime = 3;
    private const int BatchResourceSpans = 4;
    private const int BatchOrganizationId = 5;
    private const int ResourceSpansScopeSpans = 2;
    private const int ScopeSpansSpans = 2;

    // ScopeSpans.spans and ScopeLogs.log_records alike: field 2, length-delimited.
    private const byte SpansTag = (ScopeSpansSpans << 3) | 2;

    // A wrapper (ResourceSpans or ScopeSpans) costs its tag and at most 5 bytes of length.
    private const int WrapperOverhead = 1 + ProtoWire.MaxVarint32Bytes;

    /// <summary>
    /// The records of <paramref name="scan"/> for <paramref name="projectId"/> of <paramref name="organizationId"/>
    /// (Guid.Empty: none written). A span that cannot fit in a record of <paramref name="maxRecordBytes"/>
    /// even alone is rejected in the scan's tally.
    /// </summary>
    public static List<SpanRecord> Compose(ScannedExport scan, Guid projectId, ulong receivedUnixNano, int maxRecordBytes, Guid organizationId = default)
    {
        var records = new List<SpanRecord>(scan.TraceCount);
        if (scan.TraceCount == 0)
        {
            return records;
        }

        var project = Encoding.ASCII.GetBytes(projectId.ToString("D"));
        var organization = organizationId == Guid.Empty ? [] : Encoding.ASCII.GetBytes(organizationId.ToString("D"));
        var context = new Context(scan, project, organization, receivedUnixNano);

        foreach (ref readonly var group in scan.Groups)
        {
            var baseSize = context.BeginGroup(group.TraceId, projectId);
            var estimate = baseSize;
            var currentScope = -1;
            var currentResource = -1;
            for (var index = group.First; index >= 0; index = scan.Spans[index].Next)
            {
                ref readonly var span = ref scan.Spans[index];
                var spanField = ProtoWire.LengthDelimitedFieldSize(ScopeSpansSpans, span.EncodedLength);
                var scope = scan.Scopes[span.Scope];
                var cost = spanField + WrapperCost(span.Scope != currentScope, scope.Resource != currentResource, scope, scan);

                if (estimate + cost > maxRecordBytes && context.PendingSpans > 0)
                {
                    records.Add(context.Flush());
                    estimate = baseSize;
                    currentScope = -1;
                    currentResource = -1;
                    cost = spanField + WrapperCost(true, true, scope, scan);
                }

                if (estimate + cost > maxRecordBytes)
                {
                    scan.Tally.Reject(RejectReason.TooLarge);
                    continue;
                }

                context.Add(index);
                estimate += cost;
                currentScope = span.Scope;
                currentResource = scope.Resource;
            }

            if (context.PendingSpans > 0)
            {
                records.Add(context.Flush());
            }
        }

        return records;
    }

    private static int WrapperCost(bool newScope, bool newResource, ScannedExport.Header scope, ScannedExport scan)
    {
        var cost = 0;
        if (newScope)
        {
            cost += WrapperOverhead + scope.Bytes;
        }

        if (newResource)
        {
            cost += WrapperOverhead + scan.Resources[scope.Resource].Bytes;
        }

        return cost;
    }

    /// <summary>The spans of the record being built and the buffers reused from one record to the next.</summary>
    private sealed class Context(ScannedExport scan, byte[] project, byte[] organization, ulong receivedUnixNano)
    {
        private readonly List<int> _spans = [];
        private readonly List<(int Scope, int Content)> _scopeRuns = [];
        private readonly List<(int Resource, int Content)> _resourceRuns = [];
        private readonly byte[] _traceId = new byte[16];
        private string _key = "";
        private bool _hasTrace;
        private int _baseSize;

        public int PendingSpans => _spans.Count;

        /// <summary>Starts a trace's group (trace id 0: log records without a trace); returns the size of a record's fixed fields.</summary>
        public int BeginGroup(UInt128 traceId, Guid projectId)
        {
            _hasTrace = traceId != UInt128.Zero;
            BinaryPrimitives.WriteUInt128BigEndian(_traceId, traceId);
            // Records without a trace are keyed "<project_id>:" (the trace's hex empty): a retry of them lands
            // on the partition of the first attempt, in order with the project's other trace-less records.
            _key = _hasTrace ? $"{projectId:D}:{Convert.ToHexStringLower(_traceId)}" : $"{projectId:D}:";
            _baseSize = ProtoWire.LengthDelimitedFieldSize(BatchProjectId, project.Length)
                        + (_hasTrace ? ProtoWire.LengthDelimitedFieldSize(BatchTraceId, 16) : 0)
                        + 1 + 8
                        + (organization.Length > 0 ? ProtoWire.LengthDelimitedFieldSize(BatchOrganizationId, organization.Length) : 0);
            return _baseSize;
        }

        public void Add(int span) => _spans.Add(span);

        public SpanRecord Flush()
        {
            var payload = scan.Payload.Span;
            var spans = scan.Spans;
            var scopes = scan.Scopes;
            var resources = scan.Resources;

            // Sizes, inside out: each scope run's content, then each resource run's.
            _scopeRuns.Clear();
            _resourceRuns.Clear();
            foreach (var index in _spans)
            {
                var scope = spans[index].Scope;
                if (_scopeRuns.Count == 0 || _scopeRuns[^1].Scope != scope)
                {
                    _scopeRuns.Add((scope, scopes[scope].Bytes));
                }

                var run = _scopeRuns[^1];
                _scopeRuns[^1] = run with { Content = run.Content + ProtoWire.LengthDelimitedFieldSize(ScopeSpansSpans, spans[index].EncodedLength) };
            }

            foreach (var (scope, content) in _scopeRuns)
            {
                var resource = scopes[scope].Resource;
                if (_resourceRuns.Count == 0 || _resourceRuns[^1].Resource != resource)
                {
                    _resourceRuns.Add((resource, resources[resource].Bytes));
                }

                var run = _resourceRuns[^1];
                _resourceRuns[^1] = run with { Content = run.Content + ProtoWire.LengthDelimitedFieldSize(ResourceSpansScopeSpans, content) };
            }

            var total = _baseSize;
            foreach (var (_, content) in _resourceRuns)
            {
                total += ProtoWire.LengthDelimitedFieldSize(BatchResourceSpans, content);
            }

            var value = GC.AllocateUninitializedArray<byte>(total);
            var output = value.AsSpan();
            var at = ProtoWire.WriteLengthDelimited(output, BatchProjectId, project);
            if (_hasTrace)
            {
                at += ProtoWire.WriteLengthDelimited(output[at..], BatchTraceId, _traceId);
            }

            at += ProtoWire.WriteFixed64(output[at..], BatchReceivedTime, receivedUnixNano);

            var spanAt = 0;
            var scopeRun = 0;
            foreach (var (resource, resourceContent) in _resourceRuns)
            {
                at += ProtoWire.WriteLengthPrefix(output[at..], BatchResourceSpans, resourceContent);
                at += CopyHeader(payload, resources[resource], output[at..]);
                while (scopeRun < _scopeRuns.Count && scopes[_scopeRuns[scopeRun].Scope].Resource == resource)
                {
                    var (scope, scopeContent) = _scopeRuns[scopeRun++];
                    at += ProtoWire.WriteLengthPrefix(output[at..], ResourceSpansScopeSpans, scopeContent);
                    at += CopyHeader(payload, scopes[scope], output[at..]);
                    while (spanAt < _spans.Count && spans[_spans[spanAt]].Scope == scope)
                    {
                        ref readonly var span = ref spans[_spans[spanAt++]];
                        if (span.Rewritten is { } rewritten)
                        {
                            at += ProtoWire.WriteLengthDelimited(output[at..], ScopeSpansSpans, rewritten);
                            continue;
                        }

                        // Items that follow one another in the request (a trace's spans or log records sent
                        // together, as SDKs batch them) are copied as one block, tags and lengths included.
                        var runStart = FieldStart(payload, span);
                        if (runStart < 0)
                        {
                            at += ProtoWire.WriteLengthDelimited(output[at..], ScopeSpansSpans, payload.Slice(span.Start, span.Length));
                            continue;
                        }

                        var runEnd = span.Start + span.Length;
                        while (spanAt < _spans.Count && spans[_spans[spanAt]] is { Rewritten: null } next && next.Scope == scope
                               && next.Start - HeaderSize(next.Length) == runEnd)
                        {
                            runEnd = next.Start + next.Length;
                            spanAt++;
                        }

                        payload[runStart..runEnd].CopyTo(output[at..]);
                        at += runEnd - runStart;
                    }
                }
            }

            if (organization.Length > 0)
            {
                at += ProtoWire.WriteLengthDelimited(output[at..], BatchOrganizationId, organization);
            }

            if (at != total)
            {
                throw new InvalidOperationException($"SpanBatch size mismatch: computed {total} bytes, wrote {at}");
            }

            var record = new SpanRecord(_key, value, _spans.Count);
            _spans.Clear();
            return record;
        }

        /// <summary>
        /// Where <paramref name="span"/>'s field (tag, length, bytes) starts in the request, when its tag and
        /// length there are exactly the ones this composer would write (the shortest encoding; a sender may pad
        /// a length varint, which is then rewritten); else -1. A padded length's first byte is a continuation
        /// byte (high bit set), never the tag.
        /// </summary>
        private static int FieldStart(ReadOnlySpan<byte> payload, in ScannedExport.SpanEntry span)
        {
            var start = span.Start - HeaderSize(span.Length);
            return start >= 0 && payload[start] == SpansTag ? start : -1;
        }

        /// <summary>
        /// The shortest tag and length of a spans (log_records) field of <paramref name="length"/> bytes. An item
        /// that starts this far after the previous one's end has exactly that header (a longer one, or another
        /// field between them, would put it further).
        /// </summary>
        private static int HeaderSize(int length) => ProtoWire.LengthDelimitedFieldSize(ScopeSpansSpans, length) - length;

        private int CopyHeader(ReadOnlySpan<byte> payload, ScannedExport.Header header, Span<byte> output)
        {
            var at = 0;
            foreach (var segment in scan.Segments.Slice(header.FirstSegment, header.SegmentCount))
            {
                payload.Slice(segment.Start, segment.Length).CopyTo(output[at..]);
                at += segment.Length;
            }

            return at;
        }
    }
}
