using Google.Protobuf;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Protobuf;

namespace Trulayer.Otlp.Tests;

public sealed class ProtoWireReaderTests
{
    [Fact]
    public void Reader_GeneratedEncoding_ReadsEveryField()
    {
        var span = new Span
        {
            TraceId = ByteString.CopyFrom(new byte[16]),
            Name = new string('x', 300),
            StartTimeUnixNano = 123,
            Flags = 7,
            DroppedAttributesCount = 300,
        };
        var bytes = span.ToByteArray();

        var fields = new List<(int, WireType)>();
        var reader = new ProtoWireReader(bytes);
        string? name = null;
        ulong start = 0;
        uint dropped = 0;
        uint flags = 0;
        while (reader.TryReadTag(out var field, out var wireType))
        {
            fields.Add((field, wireType));
            switch (field)
            {
                case 5:
                    name = System.Text.Encoding.UTF8.GetString(reader.ReadBytes());
                    break;
                case 7:
                    start = reader.ReadFixed64();
                    break;
                case 10:
                    dropped = reader.ReadVarint32();
                    break;
                case 16:
                    flags = reader.ReadFixed32();
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        Assert.Equal([(1, WireType.LengthDelimited), (5, WireType.LengthDelimited), (7, WireType.Fixed64), (10, WireType.Varint), (16, WireType.Fixed32)], fields);
        Assert.Equal(span.Name, name);
        Assert.Equal(123UL, start);
        Assert.Equal(300u, dropped);
        Assert.Equal(7u, flags);
        Assert.Equal(bytes.Length, reader.Position);
    }

    [Theory]
    [InlineData(new byte[] { 0x0A, 0x05, 1, 2 }, "runs past the end")]
    [InlineData(new byte[] { 0x08, 0x80 }, "runs past the end")]
    [InlineData(new byte[] { 0x39, 1, 2, 3 }, "fixed64 runs past")]
    [InlineData(new byte[] { 0x0B }, "unsupported wire type 3")]
    [InlineData(new byte[] { 0x00, 0x01 }, "field number 0")]
    [InlineData(new byte[] { 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 }, "longer than 10 bytes")]
    public void Reader_MalformedInput_ThrowsSayingWhat(byte[] bytes, string problem)
    {
        var error = Assert.Throws<ProtobufFormatException>(() =>
        {
            var reader = new ProtoWireReader(bytes);
            while (reader.TryReadTag(out _, out var wireType))
            {
                reader.Skip(wireType);
            }
        });

        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reader_NestedRange_StopsAtItsEnd()
    {
        // Field 1 holds 2 bytes (a varint field inside), followed by an outer field 2.
        byte[] bytes = [0x0A, 0x02, 0x08, 0x05, 0x10, 0x07];
        var outer = new ProtoWireReader(bytes);
        Assert.True(outer.TryReadTag(out _, out _));
        var start = outer.ReadLengthDelimited(out var length);

        var inner = new ProtoWireReader(bytes, start, start + length);
        Assert.True(inner.TryReadTag(out var field, out _));
        Assert.Equal(1, field);
        Assert.Equal(5UL, inner.ReadVarint64());
        Assert.False(inner.TryReadTag(out _, out _));
    }

    [Theory]
    [InlineData(0UL, 1)]
    [InlineData(127UL, 1)]
    [InlineData(128UL, 2)]
    [InlineData(16383UL, 2)]
    [InlineData(16384UL, 3)]
    [InlineData(uint.MaxValue, 5)]
    [InlineData(ulong.MaxValue, 10)]
    public void VarintSize_MatchesGoogleProtobuf(ulong value, int expected)
    {
        Assert.Equal(expected, ProtoWire.VarintSize(value));
        Assert.Equal(CodedOutputStream.ComputeUInt64Size(value), ProtoWire.VarintSize(value));
        Span<byte> buffer = stackalloc byte[10];
        Assert.Equal(expected, ProtoWire.WriteVarint(buffer, value));
    }
}
