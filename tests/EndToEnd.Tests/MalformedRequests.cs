using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Json;
using Trulayer.Workload;

namespace Trulayer.EndToEnd.Tests;

/// <summary>One malformed request: what was done to which valid request, and the bytes to send.</summary>
internal sealed record MalformedCase(int Id, string Kind, byte[] Body, string ContentType, string? ContentEncoding)
{
    public override string ToString() => $"case {Id} ({Kind}, {ContentType}{(ContentEncoding is null ? "" : ", " + ContentEncoding)}, {Body.Length} bytes)";
}

/// <summary>
/// Makes malformed OTLP requests by mutating valid ones (small standard batches in protobuf and JSON):
/// bit flips, truncation, wrong length prefixes, deep nesting, huge and overlong varints, invalid UTF-8,
/// and gzip or deflate of garbage. Case <c>n</c> of a seed is always the same bytes, so a failure names
/// a case that can be replayed.
/// </summary>
internal sealed class MalformedRequests
{
    private const string Protobuf = "application/x-protobuf";
    private const string Json = "application/json";
    private static readonly int[] Depths = [17, 64, 1_000, 10_000, 100_000];
    private readonly int _seed;
    private readonly List<(byte[] Bytes, WireMap Map)> _protobuf = [];
    private readonly List<byte[]> _json = [];

    public MalformedRequests(int seed)
    {
        _seed = seed;
        var requests = new[]
        {
            StandardBatch.GenAi(spans: 12, traces: 2, seed: 1),
            StandardBatch.Lean(spans: 12, traces: 3, seed: 2),
            StandardBatch.GenAi(spans: 1, traces: 1, seed: 3),
        };
        foreach (var request in requests)
        {
            var bytes = request.ToByteArray();
            _protobuf.Add((bytes, WireMap.Of(bytes)));
            _json.Add(ToJson(request));
        }
    }

    public MalformedCase Create(int id)
    {
        var random = new Random(HashCode.Combine(_seed, id));
        var json = random.Next(3) == 0;
        var index = random.Next(_protobuf.Count);
        var (protobuf, map) = _protobuf[index];
        var valid = json ? _json[index] : protobuf;
        var contentType = json ? Json : Protobuf;
        switch (random.Next(9))
        {
            case 0:
                return new(id, "bit flips", FlipBits(valid, random), contentType, null);
            case 1:
                return new(id, "truncation", valid[..random.Next(valid.Length)], contentType, null);
            case 2:
                return json
                    ? new(id, "structure edits", EditJsonStructure(valid, random), contentType, null)
                    : new(id, "wrong length", WrongLength(protobuf, map, random), contentType, null);
            case 3:
                var depth = Depths[random.Next(Depths.Length)];
                return json
                    ? new(id, $"deep nesting ({depth})", DeepJson(depth, random), contentType, null)
                    : new(id, $"deep nesting ({depth})", DeepProtobuf(depth, random), contentType, null);
            case 4:
                return json
                    ? new(id, "huge numbers", HugeJsonNumbers(valid, random), contentType, null)
                    : new(id, "huge varint", HugeVarint(protobuf, map, random), contentType, null);
            case 5:
                return new(id, "invalid UTF-8", json ? InvalidUtf8InJson(valid, random) : InvalidUtf8InProtobuf(protobuf, map, random), contentType, null);
            case 6:
                var coding = random.Next(2) == 0 ? "gzip" : "deflate";
                return random.Next(2) == 0
                    ? new(id, $"{coding} of garbage", Compress(RandomBytes(random, random.Next(1, 4096)), coding), contentType, coding)
                    : new(id, $"{coding} of a mutated request", Compress(FlipBits(valid, random), coding), contentType, coding);
            case 7:
                var garbage = RandomBytes(random, random.Next(0, 2048));
                return random.Next(2) == 0
                    ? new(id, "garbage labelled gzip", garbage, contentType, "gzip")
                    : new(id, "garbage", garbage, contentType, null);
            default:
                var once = random.Next(2) == 0 ? FlipBits(valid, random) : valid[..random.Next(valid.Length)];
                return new(id, "bit flips and truncation, gzip", Compress(once[..random.Next(once.Length + 1)], "gzip"), contentType, "gzip");
        }
    }

    private static byte[] FlipBits(byte[] valid, Random random)
    {
        var bytes = (byte[])valid.Clone();
        for (var flips = random.Next(1, 17); flips > 0; flips--)
        {
            bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
        }

        return bytes;
    }

    /// <summary>A length prefix rewritten: off by a little, zero, past the end, or enormous.</summary>
    private static byte[] WrongLength(byte[] valid, WireMap map, Random random)
    {
        var field = map.Lengths[random.Next(map.Lengths.Count)];
        ulong value = random.Next(6) switch
        {
            0 => 0,
            1 => (ulong)Math.Max(0, field.Length - random.Next(1, 4)),
            2 => (ulong)(field.Length + random.Next(1, 4)),
            3 => (ulong)(valid.Length * 2),
            4 => int.MaxValue + (ulong)random.Next(1, 1000),
            _ => ulong.MaxValue - (ulong)random.Next(0, 1000),
        };
        return Splice(valid, field.PrefixOffset, field.PrefixSize, Varint(value));
    }

    /// <summary>A varint (a tag, a length, a number) replaced with a 10-byte one, an overlong one, or one that never ends.</summary>
    private static byte[] HugeVarint(byte[] valid, WireMap map, Random random)
    {
        var (offset, size) = map.Varints[random.Next(map.Varints.Count)];
        byte[] replacement = random.Next(4) switch
        {
            0 => Varint(ulong.MaxValue),
            1 => [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], // 70 bits: overflows 64
            2 => [.. Enumerable.Repeat((byte)0x80, 10 + random.Next(0, 20)), 0x00], // overlong zero
            _ => [.. Enumerable.Repeat((byte)0xFF, valid.Length - offset)], // never terminates
        };
        return Splice(valid, offset, size, replacement);
    }

    private static byte[] InvalidUtf8InProtobuf(byte[] valid, WireMap map, Random random)
    {
        var strings = map.Lengths.Where(l => l.Length > 0 && !l.LooksLikeMessage).ToList();
        var field = strings[random.Next(strings.Count)];
        var bytes = (byte[])valid.Clone();
        var bad = InvalidSequence(random);
        var at = field.ContentOffset + random.Next(Math.Max(1, field.Length - bad.Length + 1));
        bad.AsSpan(0, Math.Min(bad.Length, field.ContentOffset + field.Length - at)).CopyTo(bytes.AsSpan(at));
        return bytes;
    }

    private static byte[] InvalidUtf8InJson(byte[] valid, Random random)
    {
        // Inside a string literal: after a quote that opens a value or a key.
        var quotes = Enumerable.Range(0, valid.Length).Where(i => valid[i] == (byte)'"').ToList();
        var at = quotes[random.Next(quotes.Count)] + 1;
        if (random.Next(3) == 0)
        {
            return Splice(valid, at, 0, Encoding.ASCII.GetBytes(random.Next(2) == 0 ? "\\ud800" : "\\udc00\\ud800x"));
        }

        return Splice(valid, at, 0, InvalidSequence(random));
    }

    private static byte[] InvalidSequence(Random random) => random.Next(6) switch
    {
        0 => [0xFF],
        1 => [0xC0, 0xAF], // overlong '/'
        2 => [0x80], // a continuation byte alone
        3 => [0xED, 0xA0, 0x80], // an encoded surrogate
        4 => [0xE2, 0x82], // a sequence cut short
        _ => [0xF4, 0x90, 0x80, 0x80], // past U+10FFFF
    };

    private static byte[] EditJsonStructure(byte[] valid, Random random)
    {
        var bytes = new List<byte>(valid);
        for (var edits = random.Next(1, 6); edits > 0 && bytes.Count > 0; edits--)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(4))
            {
                case 0:
                    bytes.RemoveAt(at);
                    break;
                case 1:
                    bytes.Insert(at, "{}[]\",:"u8[random.Next(7)]);
                    break;
                case 2:
                    bytes[at] = "{}[]\",:0-ent"u8[random.Next(12)];
                    break;
                default:
                    var copy = bytes.GetRange(at, Math.Min(bytes.Count - at, random.Next(1, 200)));
                    bytes.InsertRange(random.Next(bytes.Count), copy);
                    break;
            }
        }

        return [.. bytes];
    }

    /// <summary>Numbers and ids where they do not fit: exponents past any double, 64-bit overflows, ids of the wrong type.</summary>
    private static byte[] HugeJsonNumbers(byte[] valid, Random random)
    {
        var text = Encoding.UTF8.GetString(valid);
        var replacement = random.Next(5) switch
        {
            0 => "1e999999999",
            1 => "18446744073709551616",
            2 => "-9223372036854775809",
            3 => new string('9', 5000),
            _ => "0." + new string('0', 10_000) + "1",
        };
        var targets = new[] { "\"startTimeUnixNano\":", "\"endTimeUnixNano\":", "\"kind\":", "\"intValue\":", "\"doubleValue\":", "\"traceId\":", "\"flags\":" };
        var key = targets[random.Next(targets.Length)];
        var at = text.IndexOf(key, StringComparison.Ordinal);
        if (at < 0)
        {
            return valid;
        }

        var start = at + key.Length;
        var end = start;
        while (end < text.Length && text[end] is not (',' or '}' or ']'))
        {
            end++;
        }

        return Encoding.UTF8.GetBytes(string.Concat(text.AsSpan(0, start), replacement, text.AsSpan(end)));
    }

    /// <summary>A span whose attribute value nests <paramref name="depth"/> arrays or maps, or whose unknown field nests that deep.</summary>
    private static byte[] DeepProtobuf(int depth, Random random)
    {
        var span = StandardBatch.Lean(spans: 1, traces: 1, seed: 4).ResourceSpans[0].ScopeSpans[0].Spans[0].ToByteArray();
        var nested = new BackwardWriter(depth * 16 + 64);
        var kind = random.Next(3);
        for (var level = 0; level < depth; level++)
        {
            var inner = nested.Length;
            switch (kind)
            {
                case 0: // AnyValue { array_value (5): ArrayValue { values (1): AnyValue ... } }
                    nested.PrependField(1, inner);
                    nested.PrependField(5, nested.Length);
                    break;
                case 1: // AnyValue { kvlist_value (6): KeyValueList { values (1): KeyValue { key (1): "k", value (2): AnyValue ... } } }
                    nested.PrependField(2, inner);
                    nested.Prepend([0x0A, 0x01, (byte)'k']);
                    nested.PrependField(1, nested.Length);
                    nested.PrependField(6, nested.Length);
                    break;
                default: // an unknown field (99) of messages in messages: a reader that skips unknown fields must not recurse into it
                    nested.PrependField(99, inner);
                    break;
            }
        }

        if (kind != 2)
        {
            // Span.attributes (9): KeyValue { key (1): "deep", value (2): the nested AnyValue }
            nested.PrependField(2, nested.Length);
            nested.Prepend([0x0A, 0x04, .. "deep"u8]);
            nested.PrependField(9, nested.Length);
        }

        byte[] deepSpan = [.. span, .. nested.Written];
        return Message(1, Message(2, Message(2, deepSpan))); // ExportTraceServiceRequest.resource_spans.scope_spans.spans
    }

    /// <summary>Builds a message from the inside out, each wrapper prepended once: deep nesting costs linear time, not quadratic.</summary>
    private sealed class BackwardWriter(int capacity)
    {
        private byte[] _buffer = new byte[capacity];
        private int _start = capacity;

        public int Length => _buffer.Length - _start;

        public ReadOnlySpan<byte> Written => _buffer.AsSpan(_start);

        public void Prepend(ReadOnlySpan<byte> bytes)
        {
            if (bytes.Length > _start)
            {
                var grown = new byte[_buffer.Length * 2 + bytes.Length];
                Written.CopyTo(grown.AsSpan(grown.Length - Length));
                _start = grown.Length - Length;
                _buffer = grown;
            }

            _start -= bytes.Length;
            bytes.CopyTo(_buffer.AsSpan(_start));
        }

        /// <summary>Turns the last <paramref name="length"/> bytes written into the content of field <paramref name="field"/>.</summary>
        public void PrependField(int field, int length)
        {
            Prepend(Varint((ulong)length));
            Prepend(Varint((ulong)(field << 3 | 2)));
        }
    }

    private static byte[] DeepJson(int depth, Random random)
    {
        var text = new StringBuilder();
        var (open, close) = random.Next(3) switch
        {
            0 => ("{\"arrayValue\":{\"values\":[", "]}}"),
            1 => ("{\"kvlistValue\":{\"values\":[{\"key\":\"k\",\"value\":", "}]}}"),
            _ => ("[", "]"),
        };
        text.Append("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8aa5a2d2c872e8321cf37308d69df2","spanId":"051581bf3cb55c13","name":"deep","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{"key":"deep","value":""");
        if (open == "[")
        {
            text.Append("{\"stringValue\":\"x\"},\"unknown\":");
        }

        for (var i = 0; i < depth; i++)
        {
            text.Append(open);
        }

        text.Append(open == "[" ? "1" : "{\"stringValue\":\"x\"}");
        for (var i = 0; i < depth; i++)
        {
            text.Append(close);
        }

        text.Append("}]}]}]}]}");
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static byte[] Compress(byte[] bytes, string coding)
    {
        using var output = new MemoryStream();
        using (Stream compressor = coding == "gzip" ? new GZipStream(output, CompressionLevel.Fastest) : new ZLibStream(output, CompressionLevel.Fastest))
        {
            compressor.Write(bytes);
        }

        return output.ToArray();
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] ToJson(ExportTraceServiceRequest request)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            OtlpJsonWriter.WriteExportTraceServiceRequest(writer, request);
        }

        return stream.ToArray();
    }

    private static byte[] Splice(byte[] bytes, int offset, int remove, byte[] insert)
        => [.. bytes.AsSpan(0, offset), .. insert, .. bytes.AsSpan(offset + remove)];

    private static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return [.. bytes];
    }

    private static byte[] Message(int field, byte[] content) => [.. Varint((ulong)(field << 3 | 2)), .. Varint((ulong)content.Length), .. content];

    /// <summary>Where the varints and length prefixes of a valid protobuf message are, found by walking it.</summary>
    private sealed class WireMap
    {
        public List<(int Offset, int Size)> Varints { get; } = [];

        public List<LengthField> Lengths { get; } = [];

        public static WireMap Of(byte[] message)
        {
            var map = new WireMap();
            if (!map.Walk(message, 0, message.Length, record: true))
            {
                throw new ArgumentException("not a protobuf message", nameof(message));
            }

            return map;
        }

        /// <summary>Walks [start, end) as a message; false when it is not one (then nothing is recorded).</summary>
        private bool Walk(byte[] bytes, int start, int end, bool record)
        {
            var varints = new List<(int, int)>();
            var lengths = new List<LengthField>();
            var position = start;
            while (position < end)
            {
                var tagStart = position;
                if (!TryVarint(bytes, ref position, end, out var tag) || tag >> 3 == 0)
                {
                    return false;
                }

                varints.Add((tagStart, position - tagStart));
                switch ((int)(tag & 7))
                {
                    case 0:
                        var valueStart = position;
                        if (!TryVarint(bytes, ref position, end, out _))
                        {
                            return false;
                        }

                        varints.Add((valueStart, position - valueStart));
                        break;
                    case 1:
                        position += 8;
                        break;
                    case 5:
                        position += 4;
                        break;
                    case 2:
                        var prefix = position;
                        if (!TryVarint(bytes, ref position, end, out var length) || length > (ulong)(end - position))
                        {
                            return false;
                        }

                        lengths.Add(new LengthField(prefix, position - prefix, position, (int)length, false));
                        position += (int)length;
                        break;
                    default:
                        return false;
                }

                if (position > end)
                {
                    return false;
                }
            }

            if (!record)
            {
                return true;
            }

            Varints.AddRange(varints);
            foreach (var field in lengths)
            {
                var nested = field.Length > 0 && Walk(bytes, field.ContentOffset, field.ContentOffset + field.Length, record: false);
                Lengths.Add(field with { LooksLikeMessage = nested });
                if (nested)
                {
                    Walk(bytes, field.ContentOffset, field.ContentOffset + field.Length, record: true);
                }
            }

            return true;
        }

        private static bool TryVarint(byte[] bytes, ref int position, int end, out ulong value)
        {
            value = 0;
            for (var shift = 0; shift < 64 && position < end; shift += 7)
            {
                var b = bytes[position++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return true;
                }
            }

            return false;
        }
    }

    private sealed record LengthField(int PrefixOffset, int PrefixSize, int ContentOffset, int Length, bool LooksLikeMessage);
}
