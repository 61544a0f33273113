using Trulayer.Otlp.Protobuf;

namespace Trulayer.Export.Storage;

/// <summary>
/// The spans of a response that share a resource and a scope: one ScopeSpans, with the stored resource
/// and scope messages and schema URLs, how many spans it holds and how many bytes they take inside a
/// ScopeSpans message (each span's tag, length and bytes), so a protobuf writer can give every
/// ResourceSpans and ScopeSpans its exact length before their spans are read.
/// </summary>
internal sealed record SpanGroup(
    Guid ProjectId,
    Guid ResourceId,
    Guid ScopeId,
    long SpanCount,
    long SpanFieldBytes,
    byte[] Resource,
    string ResourceSchemaUrl,
    byte[] Scope,
    string ScopeSchemaUrl)
{
    /// <summary>The bytes one span takes as a field of ScopeSpans (field 2, length-delimited).</summary>
    public static long SpanFieldSize(int spanBytes) => ProtoWire.LengthDelimitedFieldSize(2, spanBytes);

    public bool SameResource(SpanGroup other) => ProjectId == other.ProjectId && ResourceId == other.ResourceId;

    public bool Holds(Guid projectId, Guid resourceId, Guid scopeId) => ProjectId == projectId && ResourceId == resourceId && ScopeId == scopeId;
}
