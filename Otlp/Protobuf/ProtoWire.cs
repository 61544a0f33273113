using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Trulayer.Otlp.Protobuf;

/// <summary>The wire types of the protobuf encoding (the low three bits of a field's tag).</summary>
public enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>Bytes that are not a well-formed protobuf message. The message says what is wrong and where.</summary>
public sealed class ProtobufFormatException(string message) : FormatException(message);

/// <summary>Encoding primitives of the protobuf wire format, for code that writes messages without the generated classes.</summary>
public static class ProtoWire
{
    /// <summary>The most bytes a varint of a 32-bit value takes.</summary>
    public const int MaxVarint32Bytes = 5;

    public static uint Tag(int fieldNumber, WireType wireType) => ((uint)fieldNumber << 3) | (uint)wireType;

    /// <summary>How many bytes <paramref name="value"/> takes as a varint.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int VarintSize(ulong value) => ((63 - BitOperations.LeadingZeroCount(value | 1)) / 7) + 1;

    /// <summary>The size of a length-delimited field of <paramref name="fieldNumber"/> carrying <paramref name="length"/> bytes.</summary>
    public static int LengthDelimitedFieldSize(int fieldNumber, int length)
        => VarintSize(Tag(fieldNumber, WireType.LengthDelimited)) + VarintSize((uint)length) + length;

    /// <summary>Writes <paramref name="value"/> as a varint at the start of <paramref name="destination"/>; returns the bytes written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WriteVarint(Span<byte> destination, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }

    public static int WriteTag(Span<byte> destination, int fieldNumber, WireType wireType)
        => WriteVarint(destination, Tag(fieldNumber, wireType));

    /// <summary>Writes a length-delimited field (tag, length, bytes); returns the bytes written.</summary>
    public static int WriteLengthDelimited(Span<byte> destination, int fieldNumber, ReadOnlySpan<byte> value)
    {
        var n = WriteTag(destination, fieldNumber, WireType.LengthDelimited);
        n += WriteVarint(destination[n..], (uint)value.Length);
        value.CopyTo(destination[n..]);
        return n + value.Length;
    }

    /// <summary>Writes the tag and length of a length-delimited field whose content follows; returns the bytes written.</summary>
    public static int WriteLengthPrefix(Span<byte> destination, int fieldNumber, int length)
    {
        var n = WriteTag(destination, fieldNumber, WireType.LengthDelimited);
        return n + WriteVarint(destination[n..], (uint)length);
    }

    public static int WriteFixed64(Span<byte> destination, int fieldNumber, ulong value)
    {
        var n = WriteTag(destination, fieldNumber, WireType.Fixed64);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[n..], value);
        return n + 8;
    }
}

/// <summary>
/// Reads the protobuf wire format field by field without materializing messages: tags, varints, fixed
/// values and the positions of length-delimited fields, so a caller can validate a message and forward
/// slices of it. Positions are absolute in the buffer; a nested message is read with a new reader over
/// its range. Every read is bounds-checked against the end of the message being read and throws
/// <see cref="ProtobufFormatException"/> on malformed input.
/// </summary>
public ref struct ProtoWireReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private readonly int _end;
    private int _position;

    public ProtoWireReader(ReadOnlySpan<byte> buffer)
        : this(buffer, 0, buffer.Length)
    {
    }

    /// <summary>Reads the message in <c>buffer[start..end]</c>.</summary>
    public ProtoWireReader(ReadOnlySpan<byte> buffer, int start, int end)
    {
        if ((uint)start > (uint)end || (uint)end > (uint)buffer.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(end));
        }

        _buffer = buffer;
        _position = start;
        _end = end;
    }

    /// <summary>Where the next read starts, as an index into the buffer.</summary>
    public readonly int Position => _position;

    public readonly int End => _end;

    /// <summary>Reads the next field's tag; false at the end of the message.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadTag(out int fieldNumber, out WireType wireType)
    {
        if (_position >= _end)
        {
            fieldNumber = 0;
            wireType = default;
            return false;
        }

        var tag = ReadVarint32();
        fieldNumber = (int)(tag >> 3);
        wireType = (WireType)(tag & 7);
        if (fieldNumber == 0)
        {
            throw new ProtobufFormatException($"invalid field number 0 at byte {_position}");
        }

        return true;
    }

    /// <summary>Reads a varint and keeps its low 32 bits, as protobuf does for 32-bit fields.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadVarint32()
    {
        if (_position < _end)
        {
            var b = _buffer[_position];
            if (b < 0x80)
            {
                _position++;
                return b;
            }
        }

        return (uint)ReadVarintSlow();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadVarint64()
    {
        if (_position < _end)
        {
            var b = _buffer[_position];
            if (b < 0x80)
            {
                _position++;
                return b;
            }
        }

        return ReadVarintSlow();
    }

    private ulong ReadVarintSlow()
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _end)
            {
                throw new ProtobufFormatException($"a varint runs past the end of its message at byte {_position}");
            }

            var b = _buffer[_position++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }

        throw new ProtobufFormatException($"a varint is longer than 10 bytes at byte {_position}");
    }

    public ulong ReadFixed64()
    {
        if (_end - _position < 8)
        {
            throw new ProtobufFormatException($"a fixed64 runs past the end of its message at byte {_position}");
        }

        var value = BinaryPrimitives.ReadUInt64LittleEndian(_buffer.Slice(_position, 8));
        _position += 8;
        return value;
    }

    public uint ReadFixed32()
    {
        if (_end - _position < 4)
        {
            throw new ProtobufFormatException($"a fixed32 runs past the end of its message at byte {_position}");
        }

        var value = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.Slice(_position, 4));
        _position += 4;
        return value;
    }

    /// <summary>Reads a length-delimited field's length and skips its content; returns where the content starts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int ReadLengthDelimited(out int length)
    {
        var raw = ReadVarint64();
        if (raw > (ulong)(_end - _position))
        {
            throw new ProtobufFormatException($"a length-delimited field of {raw} bytes runs past the end of its message at byte {_position}");
        }

        length = (int)raw;
        var start = _position;
        _position += length;
        return start;
    }

    /// <summary>Reads a length-delimited field; returns where its content is in the buffer.</summary>
    public (int Start, int Length) ReadRange()
    {
        var start = ReadLengthDelimited(out var length);
        return (start, length);
    }

    /// <summary>Reads a length-delimited field's content.</summary>
    public ReadOnlySpan<byte> ReadBytes()
    {
        var start = ReadLengthDelimited(out var length);
        return _buffer.Slice(start, length);
    }

    /// <summary>Skips the value of a field of <paramref name="wireType"/>. Groups (deprecated, unused by OTLP) are refused.</summary>
    public void Skip(WireType wireType)
    {
        switch (wireType)
        {
            case WireType.Varint:
                ReadVarint64();
                break;
            case WireType.Fixed64:
                ReadFixed64();
                break;
            case WireType.LengthDelimited:
                ReadLengthDelimited(out _);
                break;
            case WireType.Fixed32:
                ReadFixed32();
                break;
            default:
                throw new ProtobufFormatException($"unsupported wire type {(int)wireType} before byte {_position}");
        }
    }
}
