using System.Text;
using Google.Protobuf;
using Google.Protobuf.Collections;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace Trulayer.Ingest.Pipeline;

/// <summary>
/// Rewrites a span that exceeds a limit: long keys and large values are cut, attributes, events and
/// links beyond their counts are dropped and added to the span's dropped_* counters, as the OTel SDKs
/// do. The slow path (the span is decoded with the generated classes and encoded again): only spans
/// the scanner flagged come here; every other span is forwarded byte for byte.
/// </summary>
public static class SpanTruncator
{
    public static byte[] Truncate(ReadOnlySpan<byte> encodedSpan, IngestOptions limits)
    {
        var span = Span.Parser.ParseFrom(encodedSpan);
        span.DroppedAttributesCount += BoundAttributes(span.Attributes, limits);
        span.DroppedEventsCount += DropBeyond(span.Events, limits.MaxEventsPerSpan);
        foreach (var e in span.Events)
        {
            e.DroppedAttributesCount += BoundAttributes(e.Attributes, limits);
        }

        span.DroppedLinksCount += DropBeyond(span.Links, limits.MaxLinksPerSpan);
        foreach (var link in span.Links)
        {
            link.DroppedAttributesCount += BoundAttributes(link.Attributes, limits);
        }

        return span.ToByteArray();
    }

    /// <summary>Bounds a list of attributes; returns how many were dropped.</summary>
    internal static uint BoundAttributes(RepeatedField<KeyValue> attributes, IngestOptions limits)
    {
        var dropped = DropBeyond(attributes, limits.MaxAttributesPerSpan);
        foreach (var attribute in attributes)
        {
            if (Encoding.UTF8.GetByteCount(attribute.Key) > limits.MaxAttributeKeyBytes)
            {
                attribute.Key = CutUtf8(attribute.Key, limits.MaxAttributeKeyBytes);
            }

            if (attribute.Value is { } value)
            {
                CutValue(value, limits.MaxAttributeValueBytes);
            }
        }

        return dropped;
    }

    private static uint DropBeyond<T>(RepeatedField<T> items, int max)
    {
        var extra = items.Count - max;
        if (extra <= 0)
        {
            return 0;
        }

        for (var i = items.Count - 1; i >= max; i--)
        {
            items.RemoveAt(i);
        }

        return (uint)extra;
    }

    /// <summary>
    /// Cuts a value to <paramref name="budget"/> bytes: a string or bytes to that length; an array or map
    /// to the leading items whose encoding fits (the last one itself cut when it holds a string).
    /// </summary>
    internal static void CutValue(AnyValue value, int budget)
    {
        switch (value.ValueCase)
        {
            case AnyValue.ValueOneofCase.StringValue when Encoding.UTF8.GetByteCount(value.StringValue) > budget:
                value.StringValue = CutUtf8(value.StringValue, budget);
                break;
            case AnyValue.ValueOneofCase.BytesValue when value.BytesValue.Length > budget:
                value.BytesValue = ByteString.CopyFrom(value.BytesValue.Span[..budget]);
                break;
            case AnyValue.ValueOneofCase.ArrayValue when value.ArrayValue.CalculateSize() > budget:
                KeepLeading(value.ArrayValue.Values, budget, static (item, room) => CutValue(item, room));
                break;
            case AnyValue.ValueOneofCase.KvlistValue when value.KvlistValue.CalculateSize() > budget:
                KeepLeading(value.KvlistValue.Values, budget, static (item, room) =>
                {
                    if (item.Value is { } inner)
                    {
                        CutValue(inner, Math.Max(0, room - Encoding.UTF8.GetByteCount(item.Key) - 8));
                    }
                });
                break;
        }
    }

    private static void KeepLeading<T>(RepeatedField<T> items, int budget, Action<T, int> cut)
        where T : IMessage
    {
        // Each item costs its encoding plus a tag and a length prefix of at most 1 + 5 bytes.
        const int ItemOverhead = 6;
        var room = budget;
        var keep = 0;
        for (; keep < items.Count; keep++)
        {
            var size = items[keep].CalculateSize() + ItemOverhead;
            if (size <= room)
            {
                room -= size;
                continue;
            }

            if (room > ItemOverhead * 2)
            {
                cut(items[keep], room - ItemOverhead * 2);
                if (items[keep].CalculateSize() + ItemOverhead <= room)
                {
                    keep++;
                }
            }

            break;
        }

        for (var i = items.Count - 1; i >= keep; i--)
        {
            items.RemoveAt(i);
        }
    }

    /// <summary>The longest prefix of <paramref name="text"/> of at most <paramref name="maxBytes"/> UTF-8 bytes that ends on a character boundary.</summary>
    public static string CutUtf8(string text, int maxBytes)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        if (bytes.Length <= maxBytes)
        {
            return text;
        }

        var length = maxBytes;
        while (length > 0 && (bytes[length] & 0xC0) == 0x80)
        {
            length--;
        }

        return Encoding.UTF8.GetString(bytes, 0, length);
    }
}
