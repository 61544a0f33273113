using System.Text.Json;

namespace Trulayer.Otlp.Json;

/// <summary>
/// The tokens <see cref="OtlpJsonTranscoder{TReader}"/> reads: what both <see cref="JsonTokenReader"/>
/// and System.Text.Json's <see cref="Utf8JsonReader"/> (through <see cref="Utf8JsonTokenSource"/>) give.
/// Both are strict RFC 8259 over a complete document and throw <see cref="JsonException"/> for malformed input.
/// </summary>
internal interface IJsonTokenSource
{
    JsonTokenType TokenType { get; }

    /// <summary>A string's or property name's bytes between the quotes (still escaped), or a number's text.</summary>
    ReadOnlySpan<byte> ValueSpan { get; }

    bool ValueIsEscaped { get; }

    /// <summary>The whole document, for a caller that reads a value of a known shape itself.</summary>
    ReadOnlySpan<byte> Document { get; }

    /// <summary>The offset in <see cref="Document"/> just after the current token.</summary>
    int Position { get; }

    /// <summary>Moves to the next token; false at the end of the document (after the root value).</summary>
    bool Read();

    /// <summary>Skips the current value: a whole object or array, or the value of a property name.</summary>
    void Skip();

    /// <summary>
    /// Continues after elements of the current array (objects) that the caller read itself from
    /// <see cref="Position"/> up to <paramref name="end"/>: the next <see cref="Read"/> expects what
    /// follows an element. Only on <see cref="JsonTokenType.StartArray"/> or after an element that is an object.
    /// </summary>
    void CompleteElement(int end);

    /// <summary>What is wrong, with its byte offset, for an error this source threw.</summary>
    string Explain(JsonException error);
}

/// <summary>System.Text.Json's <see cref="Utf8JsonReader"/> as an <see cref="IJsonTokenSource"/>.</summary>
internal ref struct Utf8JsonTokenSource : IJsonTokenSource
{
    private static readonly JsonReaderOptions Options = new() { MaxDepth = JsonTokenReader.MaxDepth };

    private readonly ReadOnlySpan<byte> _json;
    private Utf8JsonReader _reader;

    // Where _reader's input starts in _json: CompleteElement restarts the reader after the bytes the caller read.
    private int _offset;

    public Utf8JsonTokenSource(ReadOnlySpan<byte> json)
    {
        _json = json;
        _reader = new Utf8JsonReader(json, Options);
    }

    public readonly JsonTokenType TokenType => _reader.TokenType;

    public readonly ReadOnlySpan<byte> ValueSpan => _reader.ValueSpan;

    public readonly bool ValueIsEscaped => _reader.ValueIsEscaped;

    public readonly ReadOnlySpan<byte> Document => _json;

    public readonly int Position => _offset + (int)_reader.BytesConsumed;

    public bool Read() => _reader.Read();

    public void Skip() => _reader.Skip();

    public void CompleteElement(int end)
    {
        var state = _reader.CurrentState;
        if (_reader.TokenType == JsonTokenType.StartArray)
        {
            // The reader's state after an array's first element is the state an empty object leaves there.
            var element = new Utf8JsonReader("{}"u8, isFinalBlock: false, state);
            element.Read();
            element.Read();
            state = element.CurrentState;
        }

        _reader = new Utf8JsonReader(_json[end..], isFinalBlock: true, state);
        _offset = end;
    }

    public readonly string Explain(JsonException error)
    {
        var at = Position;
        while (at < _json.Length && _json[at] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or (byte)',')
        {
            at++;
        }

        if (_reader.CurrentDepth == JsonTokenReader.MaxDepth - 1 && at < _json.Length && _json[at] is (byte)'[' or (byte)'{')
        {
            return $"the JSON nests deeper than {JsonTokenReader.MaxDepth} levels (at byte {at})";
        }

        // Utf8JsonReader's messages end with a line and column, which restarting it in CompleteElement would make wrong.
        var message = error.Message;
        var lineNumber = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return $"{(lineNumber < 0 ? message : message[..lineNumber])} (at byte {at})";
    }
}
