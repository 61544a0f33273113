using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Trulayer.Otlp.Protobuf;

/// <summary>
/// Writes a protobuf message front to back in one pass, for encoders that learn a nested message's
/// size only after writing it (the OTLP/JSON transcoder). Two kinds of nested message:
/// <list type="bullet">
/// <item><see cref="BeginMessage"/>, for large containers: a 5-byte length placeholder that
/// <see cref="Finish"/> compacts into a minimal varint, moving every byte once for all such messages.</item>
/// <item><see cref="BeginSmallMessage"/>, for the many small ones (attributes, values): a 1-byte length,
/// widened in place (the content moved by a byte or two) in the rare case the message reaches 128
/// bytes. Cheaper per message, and it keeps the compaction's chunks few and large. A small message
/// may only contain small messages.</item>
/// </list>
/// Buffers are pooled.
/// </summary>
internal sealed class ProtobufBuilder : IDisposable
{
    private byte[] _buffer;
    private int _position;

    // Placeholders in the order they were opened, which is also their order in the buffer.
    private int[] _placeholderAt = ArrayPool<int>.Shared.Rent(256);
    private int[] _finalLength = ArrayPool<int>.Shared.Rent(256);
    private int _placeholders;

    // Open messages: the placeholder index and the bytes saved by compaction inside it so far.
    private int[] _open = new int[32];
    private long[] _savedAtOpen = new long[32];
    private int _depth;
    private int _smallDepth;
    private long _saved;

    public ProtobufBuilder(int initialCapacity)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initialCapacity, 256));
    }

    public int Depth => _depth;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> Reserve(int bytes)
    {
        if (_buffer.Length - _position < bytes)
        {
            Grow(bytes);
        }

        return _buffer.AsSpan(_position);
    }

    private void Grow(int bytes)
    {
        var next = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _position + bytes));
        _buffer.AsSpan(0, _position).CopyTo(next);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = next;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteTag(int fieldNumber, WireType wireType)
    {
        var tag = ProtoWire.Tag(fieldNumber, wireType);
        if (tag < 0x80)
        {
            Reserve(1)[0] = (byte)tag;
            _position++;
        }
        else
        {
            _position += ProtoWire.WriteVarint(Reserve(5), tag);
        }
    }

    /// <summary>The tag and length of a length-delimited field whose <paramref name="length"/> bytes the caller writes next.</summary>
    public void WriteLengthPrefix(int fieldNumber, int length)
    {
        WriteTag(fieldNumber, WireType.LengthDelimited);
        _position += ProtoWire.WriteVarint(Reserve(5), (uint)length);
    }

    public void WriteVarintField(int fieldNumber, ulong value)
    {
        WriteTag(fieldNumber, WireType.Varint);
        _position += ProtoWire.WriteVarint(Reserve(10), value);
    }

    public void WriteFixed64Field(int fieldNumber, ulong value)
    {
        WriteTag(fieldNumber, WireType.Fixed64);
        BinaryPrimitives.WriteUInt64LittleEndian(Reserve(8), value);
        _position += 8;
    }

    public void WriteFixed32Field(int fieldNumber, uint value)
    {
        WriteTag(fieldNumber, WireType.Fixed32);
        BinaryPrimitives.WriteUInt32LittleEndian(Reserve(4), value);
        _position += 4;
    }

    public void WriteDoubleField(int fieldNumber, double value) => WriteFixed64Field(fieldNumber, BitConverter.DoubleToUInt64Bits(value));

    public void WriteBytesField(int fieldNumber, ReadOnlySpan<byte> value)
    {
        WriteTag(fieldNumber, WireType.LengthDelimited);
        var destination = Reserve(5 + value.Length);
        var n = ProtoWire.WriteVarint(destination, (uint)value.Length);
        value.CopyTo(destination[n..]);
        _position += n + value.Length;
    }

    /// <summary>
    /// Starts a length-delimited field whose content the caller writes into <see cref="GetSpan"/> and
    /// commits with <see cref="Advance"/>, ended by <see cref="EndMessage"/> (a string decoded in place, say).
    /// </summary>
    public void BeginMessage(int fieldNumber)
    {
        if (_smallDepth > 0)
        {
            throw new InvalidOperationException("a small message cannot contain a message with a length placeholder");
        }

        WriteTag(fieldNumber, WireType.LengthDelimited);
        Reserve(ProtoWire.MaxVarint32Bytes);
        if (_placeholders == _placeholderAt.Length)
        {
            GrowPlaceholders();
        }

        if (_depth == _open.Length)
        {
            Array.Resize(ref _open, _depth * 2);
            Array.Resize(ref _savedAtOpen, _depth * 2);
        }

        _placeholderAt[_placeholders] = _position;
        _open[_depth] = _placeholders;
        _savedAtOpen[_depth] = _saved;
        _depth++;
        _placeholders++;
        _position += ProtoWire.MaxVarint32Bytes;
    }

    /// <summary>Starts a length-delimited field expected to hold less than 128 bytes; ended by <see cref="EndMessage"/>.</summary>
    public void BeginSmallMessage(int fieldNumber)
    {
        WriteTag(fieldNumber, WireType.LengthDelimited);
        Reserve(1);
        if (_depth == _open.Length)
        {
            Array.Resize(ref _open, _depth * 2);
            Array.Resize(ref _savedAtOpen, _depth * 2);
        }

        _position++;
        _open[_depth++] = ~_position;
        _smallDepth++;
    }

    public void EndMessage()
    {
        var open = _open[--_depth];
        if (open < 0)
        {
            EndSmallMessage(~open);
            return;
        }

        var index = open;
        var contentStart = _placeholderAt[index] + ProtoWire.MaxVarint32Bytes;
        var innerSaved = _saved - _savedAtOpen[_depth];
        var length = checked((int)(_position - contentStart - innerSaved));
        _finalLength[index] = length;
        _saved += ProtoWire.MaxVarint32Bytes - ProtoWire.VarintSize((uint)length);
    }

    private void EndSmallMessage(int contentStart)
    {
        _smallDepth--;
        var length = _position - contentStart;
        if (length < 0x80)
        {
            _buffer[contentStart - 1] = (byte)length;
            return;
        }

        var extra = ProtoWire.VarintSize((uint)length) - 1;
        Reserve(extra);
        var buffer = _buffer.AsSpan();
        buffer.Slice(contentStart, length).CopyTo(buffer[(contentStart + extra)..]);
        ProtoWire.WriteVarint(buffer[(contentStart - 1)..], (uint)length);
        _position += extra;
    }

    /// <summary>Room for at least <paramref name="sizeHint"/> bytes at the write position.</summary>
    public Span<byte> GetSpan(int sizeHint) => Reserve(sizeHint);

    public void Advance(int bytes) => _position += bytes;

    private void GrowPlaceholders()
    {
        var at = ArrayPool<int>.Shared.Rent(_placeholderAt.Length * 2);
        var length = ArrayPool<int>.Shared.Rent(_placeholderAt.Length * 2);
        _placeholderAt.AsSpan(0, _placeholders).CopyTo(at);
        _finalLength.AsSpan(0, _placeholders).CopyTo(length);
        ArrayPool<int>.Shared.Return(_placeholderAt);
        ArrayPool<int>.Shared.Return(_finalLength);
        _placeholderAt = at;
        _finalLength = length;
    }

    /// <summary>Compacts the placeholders into minimal varints; returns the finished message, valid until disposal.</summary>
    public ReadOnlyMemory<byte> Finish()
    {
        if (_depth != 0)
        {
            throw new InvalidOperationException($"{_depth} nested message(s) are still open");
        }

        var buffer = _buffer.AsSpan();
        var read = 0;
        var write = 0;
        for (var i = 0; i < _placeholders; i++)
        {
            var at = _placeholderAt[i];
            var chunk = at - read;
            if (write != read)
            {
                buffer.Slice(read, chunk).CopyTo(buffer[write..]);
            }

            write += chunk;
            write += ProtoWire.WriteVarint(buffer[write..], (uint)_finalLength[i]);
            read = at + ProtoWire.MaxVarint32Bytes;
        }

        var rest = _position - read;
        if (write != read)
        {
            buffer.Slice(read, rest).CopyTo(buffer[write..]);
        }

        write += rest;
        _position = write;
        _placeholders = 0;
        _saved = 0;
        return _buffer.AsMemory(0, write);
    }

    public void Dispose()
    {
        if (_buffer.Length == 0)
        {
            return;
        }

        ArrayPool<byte>.Shared.Return(_buffer);
        ArrayPool<int>.Shared.Return(_placeholderAt);
        ArrayPool<int>.Shared.Return(_finalLength);
        _buffer = [];
        _placeholderAt = [];
        _finalLength = [];
    }
}
