namespace Trulayer.Processor.Pipeline;

/// <summary>
/// Reads protobuf's wire format field by field, so the processor can keep each span's bytes exactly as
/// they arrived (a slice of the Kafka record) instead of re-serializing parsed messages.
/// </summary>
internal ref struct WireReader(ReadOnlySpan<byte> data, int baseOffset = 0)
{
    public const int Varint = 0;
    public const int Fixed64 = 1;
    public const int LengthDelimited = 2;
    public const int Fixed32 = 5;

    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly bool End => _position >= _data.Length;

    /// <summary>The next field number and wire type.</summary>
    public (int Field, int WireType) ReadTag()
    {
        var tag = ReadVarint();
        var field = tag >> 3;
        if (field is 0 or > 536_870_911)
        {
            throw new FormatException($"invalid field number {field} at byte {baseOffset + _position}");
        }

        return ((int)field, (int)(tag & 7));
    }

    public ulong ReadVarint()
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length)
            {
                throw new FormatException($"truncated varint at byte {baseOffset + _position}");
            }

            var b = _data[_position++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }

        throw new FormatException($"varint longer than 10 bytes at byte {baseOffset + _position}");
    }

    public ulong ReadFixed64()
    {
        if (_data.Length - _position < 8)
        {
            throw new FormatException($"truncated fixed64 at byte {baseOffset + _position}");
        }

        var value = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(_data[_position..]);
        _position += 8;
        return value;
    }

    /// <summary>A length-delimited field's bytes, as (offset from the start of the outermost buffer, length).</summary>
    public (int Offset, int Length) ReadLengthDelimited()
    {
        var length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
        {
            throw new FormatException($"a field of {length} bytes at byte {baseOffset + _position} runs past the end of its message");
        }

        var offset = baseOffset + _position;
        _position += (int)length;
        return (offset, (int)length);
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint:
                ReadVarint();
                break;
            case Fixed64:
                Advance(8);
                break;
            case LengthDelimited:
                ReadLengthDelimited();
                break;
            case Fixed32:
                Advance(4);
                break;
            default:
                // Groups (3, 4) are not used by any message the pipeline carries.
                throw new FormatException($"unsupported wire type {wireType} at byte {baseOffset + _position}");
        }
    }

    private void Advance(int count)
    {
        if (_data.Length - _position < count)
        {
            throw new FormatException($"truncated field at byte {baseOffset + _position}");
        }

        _position += count;
    }
}
