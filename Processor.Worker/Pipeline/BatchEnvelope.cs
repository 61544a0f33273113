using System.Text;
using Confluent.Kafka;
using Trulayer.Otlp.Protobuf;

namespace Trulayer.Processor.Pipeline;

/// <summary>
/// What a record of either pipeline topic carries the same way: <c>trulayer.pipeline.v1.SpanBatch</c> and
/// <c>LogBatch</c> share project_id (1), trace_id (2), received_time_unix_nano (3), their resources (4:
/// ResourceSpans or ResourceLogs) and organization_id (5, empty in records written before it), and the record's key is <c>&lt;project_id&gt;:&lt;trace_id hex&gt;</c>. Each
/// decoder applies its own rule to the trace id (a span batch names one; a log batch may name none) between
/// <see cref="Read"/> and <see cref="CheckKey"/>.
/// </summary>
internal sealed record BatchEnvelope(
    byte[] Value,
    string ProjectText,
    Guid ProjectId,
    (int Offset, int Length) TraceIdRange,
    long ReceivedUnixNano,
    List<(int Offset, int Length)> Resources,
    Guid? OrganizationId = null)
{
    private const int ProjectIdField = 1, TraceIdField = 2, ReceivedTimeField = 3, ResourcesField = 4, OrganizationIdField = 5;

    public ReadOnlySpan<byte> TraceId => Value.AsSpan(TraceIdRange.Offset, TraceIdRange.Length);

    /// <summary>Reads the shared fields; <paramref name="message"/> names the batch expected, for the rejection.</summary>
    public static BatchEnvelope Read(byte[]? value, string message)
    {
        if (value is null || value.Length == 0)
        {
            throw new RecordRejectedException($"the record has no value (a {message} was expected)");
        }

        string? projectText = null;
        (int Offset, int Length) traceId = default;
        ulong receivedNanos = 0;
        var resources = new List<(int Offset, int Length)>();
        Guid? organizationId = null;
        var reader = new ProtoWireReader(value);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch (field)
            {
                case ProjectIdField when wireType == WireType.LengthDelimited:
                    var (o, l) = reader.ReadRange();
                    projectText = Encoding.UTF8.GetString(value, o, l);
                    break;
                case TraceIdField when wireType == WireType.LengthDelimited:
                    traceId = reader.ReadRange();
                    break;
                case ReceivedTimeField when wireType == WireType.Fixed64:
                    receivedNanos = reader.ReadFixed64();
                    break;
                case ResourcesField when wireType == WireType.LengthDelimited:
                    resources.Add(reader.ReadRange());
                    break;
                case OrganizationIdField when wireType == WireType.LengthDelimited:
                    var (orgOffset, orgLength) = reader.ReadRange();
                    // An organization that does not parse is treated as none: it only selects price overrides.
                    organizationId = Guid.TryParseExact(Encoding.UTF8.GetString(value, orgOffset, orgLength), "D", out var organization) && organization != Guid.Empty
                        ? organization : null;
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        if (!Guid.TryParseExact(projectText, "D", out var projectId))
        {
            throw new RecordRejectedException($"project_id '{RecordRejectedException.Truncate(projectText ?? "")}' is not a UUID in canonical form");
        }

        return new BatchEnvelope(value, projectText!, projectId, traceId, receivedNanos > long.MaxValue ? long.MaxValue : (long)receivedNanos, resources, organizationId);
    }

    /// <summary>Throws unless the record's key names this batch's project and trace.</summary>
    public void CheckKey(ConsumeResult<byte[]?, byte[]?> source)
    {
        var expectedKey = ProjectText + ":" + Convert.ToHexStringLower(TraceId);
        var key = source.Message.Key is { } keyBytes ? Encoding.UTF8.GetString(keyBytes) : null;
        if (!string.Equals(key, expectedKey, StringComparison.OrdinalIgnoreCase))
        {
            throw new RecordRejectedException($"the key '{RecordRejectedException.Truncate(key ?? "(none)")}' does not match the record's project and trace '{expectedKey}'");
        }
    }
}

/// <summary>A record that breaks its batch's contract; its message is the dead letter's reason.</summary>
internal sealed class RecordRejectedException(string reason) : Exception(reason)
{
    /// <summary>A value quoted in a reason, cut to 80 characters.</summary>
    public static string Truncate(string text) => text.Length <= 80 ? text : text[..80] + "...";
}
