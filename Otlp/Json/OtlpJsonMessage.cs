namespace Trulayer.Otlp.Json;

/// <summary>How a field's JSON value is read and what protobuf it becomes (the OTLP/JSON rules, not proto3's canonical JSON).</summary>
internal enum OtlpJsonKind : byte
{
    /// <summary>A JSON string; protobuf <c>string</c>.</summary>
    String,

    /// <summary>A trace or span id: hex (either case), not base64; protobuf <c>bytes</c>. An empty string leaves the field out.</summary>
    HexBytes,

    /// <summary>Base64 (standard or URL-safe alphabet, padding optional); protobuf <c>bytes</c>.</summary>
    Base64Bytes,

    /// <summary><c>true</c> or <c>false</c>; protobuf <c>bool</c>.</summary>
    Bool,

    /// <summary>A number or a decimal string; protobuf <c>int64</c> (varint).</summary>
    Int64,

    /// <summary>A number or a decimal string; protobuf <c>uint32</c> (varint).</summary>
    UInt32,

    /// <summary>A number or a decimal string; protobuf <c>fixed32</c>.</summary>
    Fixed32,

    /// <summary>A number or a decimal string; protobuf <c>fixed64</c> (the <c>...UnixNano</c> times).</summary>
    Fixed64,

    /// <summary>A number, or the string <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c> or a decimal; protobuf <c>double</c>.</summary>
    Double,

    /// <summary>A number or the value's name (<see cref="OtlpJsonFieldShape.EnumNames"/>); protobuf enum (varint).</summary>
    Enum,

    /// <summary>An object read by <see cref="OtlpJsonFieldShape.Message"/>'s table; a nested message.</summary>
    Message,
}

/// <summary>
/// One field of an OTLP message as the transcoder reads it: its JSON key, protobuf field number and
/// kind. <see cref="Repeated"/> reads a JSON array, one protobuf field per element. <see cref="OneOf"/>
/// writes the value even when it is its type's default (0, false, ""), because in a oneof which member
/// is set is itself the value.
/// </summary>
internal sealed record OtlpJsonFieldShape(
    OtlpJsonField Field,
    int Number,
    OtlpJsonKind Kind,
    OtlpJsonMessage? Message = null,
    string?[]? EnumNames = null,
    bool Repeated = false,
    bool OneOf = false)
{
    /// <summary>Written even when it holds the default: a oneof member, or an element of a repeated field.</summary>
    public bool Always => OneOf || Repeated;
}

/// <summary>
/// An OTLP message as a table of its fields, which <see cref="OtlpJsonTranscoder"/> reads
/// (the tables are in <see cref="OtlpJsonMessages"/>). Keys that are not in the table are skipped.
/// </summary>
internal sealed class OtlpJsonMessage(string name, bool small = false)
{
    private OtlpJsonFieldShape?[] _byField = [];

    public string Name { get; } = name;

    /// <summary>
    /// Written with a one-byte length placeholder (<see cref="Protobuf.ProtobufBuilder.BeginSmallMessage"/>):
    /// usually under 128 bytes, and holding only small messages.
    /// </summary>
    public bool Small { get; } = small;

    /// <summary>The repeated field a bare JSON array stands for (ArrayValue and KeyValueList: <c>[...]</c> for <c>{"values": [...]}</c>).</summary>
    public OtlpJsonFieldShape? BareArray { get; private set; }

    /// <summary>The field a key names in this message; null for a key it does not have.</summary>
    public OtlpJsonFieldShape? this[OtlpJsonField field] => (uint)field < (uint)_byField.Length ? _byField[(int)field] : null;

    public IEnumerable<OtlpJsonFieldShape> Fields => _byField.OfType<OtlpJsonFieldShape>();

    /// <summary>Sets the fields, once (messages refer to each other, so they are created first and defined after).</summary>
    public void Define(params OtlpJsonFieldShape[] fields)
    {
        if (_byField.Length > 0)
        {
            throw new InvalidOperationException($"{Name} is defined twice");
        }

        var byField = new OtlpJsonFieldShape?[Enum.GetValues<OtlpJsonField>().Length];
        foreach (var field in fields)
        {
            if (byField[(int)field.Field] is not null || fields.Count(f => f.Number == field.Number) > 1)
            {
                throw new InvalidOperationException($"{Name}.{field.Field} (field {field.Number}) is defined twice");
            }

            if ((field.Kind == OtlpJsonKind.Message) != (field.Message is not null) || (field.Kind == OtlpJsonKind.Enum) != (field.EnumNames is not null))
            {
                throw new InvalidOperationException($"{Name}.{field.Field}: a message field names its message, an enum field its names, nothing else does");
            }

            if (Small && field.Message is { Small: false })
            {
                throw new InvalidOperationException($"{Name} is small, so {field.Field} must be a small message too");
            }

            byField[(int)field.Field] = field;
        }

        _byField = byField;
    }

    /// <summary>Makes a bare JSON array read as <paramref name="field"/>'s elements.</summary>
    public void AcceptBareArrayAs(OtlpJsonField field)
    {
        BareArray = this[field] is { Repeated: true } repeated ? repeated : throw new InvalidOperationException($"{Name}.{field} is not a repeated field");
    }

    public override string ToString() => Name;
}
