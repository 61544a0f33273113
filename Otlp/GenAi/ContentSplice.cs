using System.Text.Unicode;
using Trulayer.Otlp.Protobuf;

namespace Trulayer.Otlp.GenAi;

/// <summary>
/// How a span's prompt and completion are stored once: the processor keeps the text in its input and
/// output columns and, in the span's bytes, leaves in place of that attribute a placeholder, the same
/// attribute without its value (<c>KeyValue { key }</c>). The export splices the text back in at the
/// placeholder, which gives the span byte for byte as it arrived. An attribute is cut only when that is
/// exact: its value is a string equal to the column's text, encoded as Google.Protobuf encodes it
/// (<see cref="IsExactly"/>); any other keeps the whole span and the column holds a copy.
/// </summary>
public static class ContentSplice
{
    // Span.attributes = 9; KeyValue: key = 1, value = 2; AnyValue: string_value = 1.
    private const int AttributesField = 9, KeyField = 1, ValueField = 2, StringValueField = 1;

    /// <summary>The bytes of the attribute field <c>KeyValue { key, value: AnyValue { string_value: text } }</c> of a Span.</summary>
    public static int FieldSize(int keyBytes, int textBytes) => ProtoWire.LengthDelimitedFieldSize(AttributesField, KeyValueSize(keyBytes, textBytes));

    /// <summary>The bytes of the placeholder field <c>KeyValue { key }</c> of a Span.</summary>
    public static int PlaceholderSize(int keyBytes) => ProtoWire.LengthDelimitedFieldSize(AttributesField, ProtoWire.LengthDelimitedFieldSize(KeyField, keyBytes));

    /// <summary>Writes the attribute field with its text; returns the bytes written.</summary>
    public static int WriteField(Span<byte> destination, ReadOnlySpan<byte> key, ReadOnlySpan<byte> text)
    {
        var n = ProtoWire.WriteLengthPrefix(destination, AttributesField, KeyValueSize(key.Length, text.Length));
        n += ProtoWire.WriteLengthDelimited(destination[n..], KeyField, key);
        n += ProtoWire.WriteLengthPrefix(destination[n..], ValueField, ProtoWire.LengthDelimitedFieldSize(StringValueField, text.Length));
        return n + ProtoWire.WriteLengthDelimited(destination[n..], StringValueField, text);
    }

    /// <summary>Writes the placeholder of the attribute <paramref name="key"/>; returns the bytes written.</summary>
    public static int WritePlaceholder(Span<byte> destination, ReadOnlySpan<byte> key)
    {
        var n = ProtoWire.WriteLengthPrefix(destination, AttributesField, ProtoWire.LengthDelimitedFieldSize(KeyField, key.Length));
        return n + ProtoWire.WriteLengthDelimited(destination[n..], KeyField, key);
    }

    /// <summary>
    /// Whether <paramref name="field"/> (an attribute field of a Span, from its tag to its end) is exactly
    /// what <see cref="WriteField"/> writes for some key and text: KeyValue { key, value: AnyValue {
    /// string_value } } in that order, nothing else, every length the shortest, key and text valid UTF-8 (so
    /// the strings they decode to encode back to the same bytes). Gives the key's and the text's place in
    /// <paramref name="field"/>.
    /// </summary>
    public static bool IsExact(ReadOnlySpan<byte> field, out (int Offset, int Length) key, out (int Offset, int Length) text)
    {
        key = text = default;
        var reader = new ProtoWireReader(field);
        if (!reader.TryReadTag(out var number, out var wireType) || number != AttributesField || wireType != WireType.LengthDelimited)
        {
            return false;
        }

        var (keyValueOffset, keyValueLength) = reader.ReadRange();
        var keyValue = new ProtoWireReader(field, keyValueOffset, keyValueOffset + keyValueLength);
        if (!keyValue.TryReadTag(out number, out wireType) || number != KeyField || wireType != WireType.LengthDelimited)
        {
            return false;
        }

        key = keyValue.ReadRange();
        if (!keyValue.TryReadTag(out number, out wireType) || number != ValueField || wireType != WireType.LengthDelimited)
        {
            return false;
        }

        var (valueOffset, valueLength) = keyValue.ReadRange();
        var value = new ProtoWireReader(field, valueOffset, valueOffset + valueLength);
        if (!value.TryReadTag(out number, out wireType) || number != StringValueField || wireType != WireType.LengthDelimited)
        {
            return false;
        }

        text = value.ReadRange();
        // Nothing after each part, no longer length than needed: the sizes add up exactly.
        return value.Position == value.End && keyValue.Position == keyValue.End && reader.Position == field.Length
               && field.Length == FieldSize(key.Length, text.Length)
               && Utf8.IsValid(field.Slice(key.Offset, key.Length)) && Utf8.IsValid(field.Slice(text.Offset, text.Length));
    }

    /// <summary>
    /// The key of the placeholder at <paramref name="offset"/> of <paramref name="stored"/> and the bytes it
    /// takes; throws <see cref="FormatException"/> when there is none there.
    /// </summary>
    public static (int KeyOffset, int KeyLength, int PlaceholderLength) ReadPlaceholder(ReadOnlySpan<byte> stored, int offset)
    {
        if ((uint)offset >= (uint)stored.Length)
        {
            throw new FormatException($"a content placeholder at byte {offset} lies outside the stored span of {stored.Length} bytes");
        }

        var reader = new ProtoWireReader(stored, offset, stored.Length);
        if (!reader.TryReadTag(out var field, out var wireType) || field != AttributesField || wireType != WireType.LengthDelimited)
        {
            throw new FormatException($"no attribute field at byte {offset} of the stored span, where its content placeholder should be");
        }

        var (start, length) = reader.ReadRange();
        var keyValue = new ProtoWireReader(stored, start, start + length);
        if (!keyValue.TryReadTag(out field, out wireType) || field != KeyField || wireType != WireType.LengthDelimited)
        {
            throw new FormatException($"the attribute at byte {offset} of the stored span is not a content placeholder");
        }

        var (keyOffset, keyLength) = keyValue.ReadRange();
        if (keyValue.Position != start + length)
        {
            throw new FormatException($"the attribute at byte {offset} of the stored span has a value: it is not a content placeholder");
        }

        return (keyOffset, keyLength, start + length - offset);
    }

    /// <summary>The size of the span <see cref="Restore"/> writes.</summary>
    public static int RestoredSize(ReadOnlySpan<byte> stored, int? inputAt, int inputTextBytes, int? outputAt, int outputTextBytes)
    {
        var size = stored.Length;
        if (inputAt is { } i)
        {
            var (_, keyLength, placeholderLength) = ReadPlaceholder(stored, i);
            size += FieldSize(keyLength, inputTextBytes) - placeholderLength;
        }

        if (outputAt is { } o)
        {
            var (_, keyLength, placeholderLength) = ReadPlaceholder(stored, o);
            size += FieldSize(keyLength, outputTextBytes) - placeholderLength;
        }

        return size;
    }

    /// <summary>
    /// Writes the span as it arrived: <paramref name="stored"/> with the texts spliced in at their
    /// placeholders (<paramref name="inputAt"/>, <paramref name="outputAt"/>: null when not cut); returns the
    /// bytes written, <see cref="RestoredSize"/> of them.
    /// </summary>
    public static int Restore(ReadOnlySpan<byte> stored, int? inputAt, ReadOnlySpan<byte> inputText, int? outputAt, ReadOnlySpan<byte> outputText, Span<byte> destination)
    {
        if (inputAt is { } i && outputAt is { } o && o < i)
        {
            return Restore(stored, outputAt, outputText, inputAt, inputText, destination);
        }

        var written = 0;
        var position = 0;
        SpliceAt(stored, inputAt, inputText, destination, ref written, ref position);
        SpliceAt(stored, outputAt, outputText, destination, ref written, ref position);
        stored[position..].CopyTo(destination[written..]);
        return written + stored.Length - position;
    }

    /// <summary>Copies the stored bytes up to the placeholder at <paramref name="at"/>, then the attribute with its text in the placeholder's place.</summary>
    private static void SpliceAt(ReadOnlySpan<byte> stored, int? at, ReadOnlySpan<byte> text, Span<byte> destination, ref int written, ref int position)
    {
        if (at is not { } offset)
        {
            return;
        }

        if (offset < position)
        {
            throw new FormatException($"the content placeholder at byte {offset} overlaps the one before it");
        }

        var (keyOffset, keyLength, placeholderLength) = ReadPlaceholder(stored, offset);
        stored[position..offset].CopyTo(destination[written..]);
        written += offset - position;
        written += WriteField(destination[written..], stored.Slice(keyOffset, keyLength), text);
        position = offset + placeholderLength;
    }

    private static int KeyValueSize(int keyBytes, int textBytes)
        => ProtoWire.LengthDelimitedFieldSize(KeyField, keyBytes)
           + ProtoWire.LengthDelimitedFieldSize(ValueField, ProtoWire.LengthDelimitedFieldSize(StringValueField, textBytes));
}
