using System.Text.Json;

namespace Trulayer.Otlp.Json;

/// <summary>
/// System.Text.Json's <see cref="Utf8JsonReader"/> over a complete OTLP/JSON document (strict RFC 8259,
/// at most <see cref="MaxDepth"/> levels deep), which can also be moved past array elements that the
/// transcoder read from the bytes itself (<see cref="CompleteElements"/>): the compact-attribute fast path.
/// </summary>
internal ref struct Utf8JsonTokenReader
{
    public const int MaxDepth = 256;

    private static readonly JsonReaderOptions Options = new() { MaxDepth = MaxDepth };

    private readonly ReadOnlySpan<byte> _json;
    private Utf8JsonReader _reader;

    // Where _reader's input starts in _json: CompleteElements restarts the reader after the bytes read without it.
    private int _offset;

    // The reader's state after an element of an array, by the containers the array is in.
    private (ulong Containers, JsonReaderState State)[]? _afterElement;
    private int _afterElementCount;

    public Utf8JsonTokenReader(ReadOnlySpan<byte> json)
    {
        _json = json;
        _reader = new Utf8JsonReader(json, Options);
    }

    public readonly JsonTokenType TokenType => _reader.TokenType;

    /// <summary>A string's or property name's bytes between the quotes (still escaped), or a number's text.</summary>
    public readonly ReadOnlySpan<byte> ValueSpan => _reader.ValueSpan;

    public readonly bool ValueIsEscaped => _reader.ValueIsEscaped;

    /// <summary>The whole document, for a caller that reads values of a known shape itself.</summary>
    public readonly ReadOnlySpan<byte> Document => _json;

    /// <summary>The offset in <see cref="Document"/> just after the current token.</summary>
    public readonly int Position => _offset + (int)_reader.BytesConsumed;

    /// <summary>Moves to the next token; false at the end of the document (after the root value). Malformed JSON throws <see cref="JsonException"/>.</summary>
    public bool Read() => _reader.Read();

    /// <summary>Skips the current value: a whole object or array, or the value of a property name.</summary>
    public void Skip() => _reader.Skip();

    /// <summary>
    /// Continues after elements of the current array (objects) that the caller read itself from
    /// <see cref="Position"/> up to <paramref name="end"/>: the next <see cref="Read"/> expects what
    /// follows an element. Only on <see cref="JsonTokenType.StartArray"/> or after an element that is an
    /// object. <paramref name="containers"/> names the containers the reader is in (see
    /// <see cref="OtlpJsonTranscoder"/>), 0 where the caller does not know them.
    /// </summary>
    public void CompleteElements(int end, ulong containers)
    {
        // Utf8JsonReader cannot be moved forward, but it can be restarted from a state: the state after an
        // element. After the array's start that is the state an empty object leaves there, which depends
        // only on the containers the array is in (and line counts, which the messages here leave out):
        // found once per document for each array position, because finding it costs more than the restart.
        var state = _reader.CurrentState;
        if (_reader.TokenType == JsonTokenType.StartArray && !TryFindAfterElementState(containers, ref state))
        {
            var element = new Utf8JsonReader("{}"u8, isFinalBlock: false, state);
            element.Read();
            element.Read();
            state = element.CurrentState;
            RememberAfterElementState(containers, state);
        }

        _reader = new Utf8JsonReader(_json[end..], isFinalBlock: true, state);
        _offset = end;
    }

    private readonly bool TryFindAfterElementState(ulong containers, ref JsonReaderState state)
    {
        for (var i = 0; i < _afterElementCount; i++)
        {
            if (_afterElement![i].Containers == containers)
            {
                state = _afterElement[i].State;
                return true;
            }
        }

        return false;
    }

    private void RememberAfterElementState(ulong containers, JsonReaderState state)
    {
        _afterElement ??= new (ulong, JsonReaderState)[8];
        if (containers != 0 && _afterElementCount < _afterElement.Length)
        {
            _afterElement[_afterElementCount++] = (containers, state);
        }
    }

    /// <summary>What is wrong, with its byte offset, for an error <see cref="Read"/> or <see cref="Skip"/> threw.</summary>
    public readonly string Explain(JsonException error)
    {
        var at = Position;
        while (at < _json.Length && _json[at] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or (byte)',')
        {
            at++;
        }

        if (_reader.CurrentDepth == MaxDepth - 1 && at < _json.Length && _json[at] is (byte)'[' or (byte)'{')
        {
            return $"the JSON nests deeper than {MaxDepth} levels (at byte {at})";
        }

        // Utf8JsonReader's messages end with a line and a column, which restarting it makes wrong.
        var message = error.Message;
        var lineNumber = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return $"{(lineNumber < 0 ? message : message[..lineNumber])} (at byte {at})";
    }
}
