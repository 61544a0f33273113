using System.Buffers;
using System.Globalization;
using System.Text.Unicode;
using OpenTelemetry.Proto.Common.V1;

namespace Trulayer.Otlp.GenAi;

/// <summary>The GenAI columns promoted from one span's attributes; null where no attribute supplied one.</summary>
public sealed record GenAiFields
{
    public static GenAiFields None { get; } = new();

    /// <summary>The provider, as its semconv well-known name where it has one (<see cref="GenAiProviders"/>).</summary>
    public string? LlmSystem { get; init; }
    public string? RequestModel { get; init; }
    public string? ResponseModel { get; init; }
    public long? InputTokens { get; init; }
    public long? OutputTokens { get; init; }
    public long? CacheReadTokens { get; init; }
    public long? CacheCreationTokens { get; init; }
    public long? ReasoningTokens { get; init; }

    /// <summary>The cost in micro-units of its currency (USD by convention): 0.0123 becomes 12,300.</summary>
    public long? CostMicros { get; init; }

    /// <summary>The input messages in the semconv 1.37 shape (<see cref="GenAiContent"/>), at most the configured number of UTF-8 bytes.</summary>
    public string? InputText { get; init; }

    /// <summary>The output messages likewise.</summary>
    public string? OutputText { get; init; }

    /// <summary>Whether <see cref="InputText"/> or <see cref="OutputText"/> was cut to the cap.</summary>
    public bool TextTruncated { get; init; }

    /// <summary>The session (conversation) the span belongs to.</summary>
    public string? SessionId { get; init; }

    /// <summary>The end user the span acted for.</summary>
    public string? UserId { get; init; }

    /// <summary>The one attribute <see cref="InputText"/> is normalized from, when it is one string attribute alone; else null.</summary>
    public GenAiContentSource? InputSource { get; init; }

    /// <summary>The same for <see cref="OutputText"/>.</summary>
    public GenAiContentSource? OutputSource { get; init; }

    /// <summary>Time to first token (first chunk of a streamed response) in nanoseconds from the span's start.</summary>
    public long? TimeToFirstTokenNanos { get; init; }
}

/// <summary>The span's start and end (Unix nanoseconds): what a time to first token is measured from and must fit in.</summary>
public readonly record struct SpanWindow(long StartUnixNano, long EndUnixNano);

/// <summary>
/// The attribute a span's input or output text comes from, alone and whole: <paramref name="Index"/> in the
/// attributes <see cref="GenAiMapper.Map"/> was given (a string value, at most the text cap in UTF-8 bytes,
/// with no system instructions put before it and nothing cut); the text is
/// <c><see cref="GenAiContent.Normalize(GenAiField, string?, string)"/>(field, <paramref name="Form"/>, value)</c>.
/// <paramref name="Form"/> is the attribute's key, or null when the value is in the stored form already.
/// </summary>
public readonly record struct GenAiContentSource(int Index, string? Form);

/// <summary>
/// Promotes GenAI attributes to columns following <see cref="GenAiPrecedence.Table"/>. Pure: the same
/// attributes always give the same fields. An attribute whose value cannot fill its field (a token
/// count that is negative or not a whole number, an empty model name, content that holds no message)
/// counts as absent, so the next attribute in the table can supply the field.
/// </summary>
public static class GenAiMapper
{
    /// <summary>256 KiB: the default cap on input and output text, in UTF-8 bytes.</summary>
    public const int DefaultMaxTextBytes = 256 * 1024;

    /// <summary>A day: the longest time to first token taken as one (a longer value is a unit mistake, not a wait).</summary>
    public const long MaxTimeToFirstTokenNanos = 86_400_000_000_000;

    private static readonly int FieldCount = Enum.GetValues<GenAiField>().Length;

    /// <summary>
    /// The span's GenAI fields. <paramref name="span"/> is the span's start and end: a time to first token must
    /// fit in it, and a completion start time (<see cref="GenAiShape.Timestamp"/>) is usable only with it.
    /// </summary>
    public static GenAiFields Map(IReadOnlyList<KeyValue> attributes, int maxTextBytes = DefaultMaxTextBytes, SpanWindow? span = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxTextBytes);
        Span<int> ranks = stackalloc int[FieldCount];
        ranks.Fill(int.MaxValue);
        Span<long> numbers = stackalloc long[FieldCount];
        Span<int> winners = stackalloc int[FieldCount];
        List<Candidate>? content = null;
        var any = false;

        for (var i = 0; i < attributes.Count; i++)
        {
            var attribute = attributes[i];
            if (!GenAiPrecedence.ByAttribute.TryGetValue(attribute.Key, out var rows))
            {
                foreach (var (row, rank) in GenAiPrecedence.Indexed)
                {
                    if (attribute.Key.StartsWith(row.Attribute, StringComparison.Ordinal)
                        && !(content ??= []).Exists(c => c.Row == row))
                    {
                        content.Add(new Candidate(row, rank, -1));
                    }
                }

                continue;
            }

            foreach (var (row, rank) in rows)
            {
                var field = (int)row.Field;
                var value = attribute.Value;
                if (row.Field is GenAiField.InputText or GenAiField.OutputText)
                {
                    if (IsText(value))
                    {
                        (content ??= []).Add(new Candidate(row, rank, i));
                    }

                    continue;
                }

                if (rank >= ranks[field])
                {
                    continue;
                }

                long number = 0;
                var usable = row.Field switch
                {
                    GenAiField.LlmSystem or GenAiField.RequestModel or GenAiField.ResponseModel or GenAiField.SessionId or GenAiField.UserId
                        => value is { ValueCase: AnyValue.ValueOneofCase.StringValue } && value.StringValue.Length > 0,
                    GenAiField.SystemInstructions => IsText(value),
                    GenAiField.Cost => TryCostMicros(value, out number),
                    GenAiField.TimeToFirstToken => TryTimeToFirstToken(row.Shape, value, span, out number),
                    _ => TryCount(value, out number),
                };
                if (usable)
                {
                    // Only a usable value replaces the number: a better-ranked but unusable one leaves the winner's.
                    numbers[field] = number;
                    ranks[field] = rank;
                    winners[field] = i;
                    any = true;
                }
            }
        }

        if (!any && content is null)
        {
            return GenAiFields.None;
        }

        string? String(GenAiField field, Span<int> ranks, Span<int> winners)
            => ranks[(int)field] == int.MaxValue ? null : attributes[winners[(int)field]].Value.StringValue;

        long? Number(GenAiField field, Span<int> ranks, Span<long> numbers)
            => ranks[(int)field] == int.MaxValue ? null : numbers[(int)field];

        var (input, inputFrom) = Content(attributes, content, GenAiField.InputText);
        if (ranks[(int)GenAiField.SystemInstructions] != int.MaxValue)
        {
            input = GenAiContent.WithSystemInstructions(input, TextOf(attributes[winners[(int)GenAiField.SystemInstructions]].Value));
            inputFrom = null;
        }

        var inputText = input is null ? (Text: (string?)null, Truncated: false) : Cap(input, maxTextBytes);
        var (output, outputFrom) = Content(attributes, content, GenAiField.OutputText);
        var outputText = output is null ? (Text: (string?)null, Truncated: false) : Cap(output, maxTextBytes);
        var provider = String(GenAiField.LlmSystem, ranks, winners);

        return new GenAiFields
        {
            LlmSystem = provider is null ? null : GenAiProviders.Normalize(provider),
            RequestModel = String(GenAiField.RequestModel, ranks, winners),
            ResponseModel = String(GenAiField.ResponseModel, ranks, winners),
            InputTokens = Number(GenAiField.InputTokens, ranks, numbers),
            OutputTokens = Number(GenAiField.OutputTokens, ranks, numbers),
            CacheReadTokens = Number(GenAiField.CacheReadTokens, ranks, numbers),
            CacheCreationTokens = Number(GenAiField.CacheCreationTokens, ranks, numbers),
            ReasoningTokens = Number(GenAiField.ReasoningTokens, ranks, numbers),
            CostMicros = Number(GenAiField.Cost, ranks, numbers),
            InputText = inputText.Text,
            OutputText = outputText.Text,
            TextTruncated = inputText.Truncated || outputText.Truncated,
            SessionId = String(GenAiField.SessionId, ranks, winners),
            UserId = String(GenAiField.UserId, ranks, winners),
            TimeToFirstTokenNanos = Number(GenAiField.TimeToFirstToken, ranks, numbers),
            InputSource = inputText.Truncated ? null : Source(attributes, inputFrom, maxTextBytes),
            OutputSource = outputText.Truncated ? null : Source(attributes, outputFrom, maxTextBytes),
        };
    }

    /// <summary>The source of content normalized from the one candidate <paramref name="from"/>, when it is a plain string attribute within the cap.</summary>
    private static GenAiContentSource? Source(IReadOnlyList<KeyValue> attributes, Candidate? from, int maxTextBytes)
    {
        if (from is not { Index: >= 0 } candidate || candidate.Row.Shape == GenAiShape.SpanEvent)
        {
            return null;
        }

        var attribute = attributes[candidate.Index];
        if (attribute.Value is not { ValueCase: AnyValue.ValueOneofCase.StringValue } value || Cap(value.StringValue, maxTextBytes).Truncated)
        {
            return null;
        }

        return new GenAiContentSource(candidate.Index, candidate.Row.Shape == GenAiShape.SemConvMessages ? null : attribute.Key);
    }

    /// <summary>A content attribute (or indexed family, <see cref="Index"/> -1) that may fill its field.</summary>
    private readonly record struct Candidate(GenAiSource Row, int Rank, int Index);

    /// <summary>The normalized content of the best-ranked candidate for <paramref name="field"/> that holds any, and that candidate.</summary>
    private static (string? Text, Candidate? From) Content(IReadOnlyList<KeyValue> attributes, List<Candidate>? candidates, GenAiField field)
    {
        if (candidates is null)
        {
            return (null, null);
        }

        foreach (var candidate in candidates.Where(c => c.Row.Field == field).OrderBy(c => c.Rank))
        {
            var normalized = candidate.Row.Shape == GenAiShape.Indexed
                ? GenAiContent.FromIndexed(attributes, candidate.Row.Attribute, GenAiContent.DefaultRole(field))
                : GenAiContent.Normalize(candidate.Row, TextOf(attributes[candidate.Index].Value));
            if (normalized is not null)
            {
                return (normalized, candidate);
            }
        }

        return (null, null);
    }

    /// <summary>
    /// Cuts <paramref name="text"/> to at most <paramref name="maxBytes"/> UTF-8 bytes, on a character
    /// boundary (never inside a surrogate pair).
    /// </summary>
    public static (string Text, bool Truncated) Cap(string text, int maxBytes)
    {
        // A UTF-16 code unit never takes more than 3 UTF-8 bytes, so short strings need no counting.
        if ((long)text.Length * 3 <= maxBytes || System.Text.Encoding.UTF8.GetByteCount(text) <= maxBytes)
        {
            return (text, false);
        }

        var buffer = ArrayPool<byte>.Shared.Rent(maxBytes);
        try
        {
            // Not the final block: a high surrogate whose pair would not fit is left out rather than replaced.
            Utf8.FromUtf16(text, buffer.AsSpan(0, maxBytes), out var charsRead, out _, replaceInvalidSequences: true, isFinalBlock: false);
            return (text[..charsRead], true);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A whole, non-negative count: an int, a double with no fraction, or a string of digits.</summary>
    private static bool TryCount(AnyValue? value, out long count)
    {
        count = 0;
        switch (value?.ValueCase)
        {
            case AnyValue.ValueOneofCase.IntValue when value.IntValue >= 0:
                count = value.IntValue;
                return true;
            case AnyValue.ValueOneofCase.DoubleValue:
                var d = value.DoubleValue;
                // 2^63 is exactly representable; anything at or above it does not fit a long.
                if (d >= 0 && d < 9.2233720368547758E18 && Math.Floor(d) == d)
                {
                    count = (long)d;
                    return true;
                }

                return false;
            case AnyValue.ValueOneofCase.StringValue:
                return long.TryParse(value.StringValue, NumberStyles.None, CultureInfo.InvariantCulture, out count);
            default:
                return false;
        }
    }

    /// <summary>A finite, non-negative amount (number or numeric string) in currency units, as micro-units.</summary>
    private static bool TryCostMicros(AnyValue? value, out long micros)
    {
        micros = 0;
        if (!TryNumber(value, out var amount))
        {
            return false;
        }

        var scaled = Math.Round(amount * 1_000_000, MidpointRounding.AwayFromZero);
        if (!double.IsFinite(scaled) || scaled < 0 || scaled >= 9.2233720368547758E18)
        {
            return false;
        }

        micros = (long)scaled;
        return true;
    }

    /// <summary>
    /// A time to first token in nanoseconds from <paramref name="value"/> of the given shape: seconds or
    /// milliseconds, or a completion start time less the span's start. Usable when finite, not negative, at
    /// most <see cref="MaxTimeToFirstTokenNanos"/>, and, with the span known, not past its end.
    /// </summary>
    private static bool TryTimeToFirstToken(GenAiShape shape, AnyValue? value, SpanWindow? span, out long nanos)
    {
        nanos = 0;
        double scaled;
        switch (shape)
        {
            case GenAiShape.Seconds when TryNumber(value, out var seconds):
                scaled = seconds * 1e9;
                break;
            case GenAiShape.Milliseconds when TryNumber(value, out var milliseconds):
                scaled = milliseconds * 1e6;
                break;
            case GenAiShape.Timestamp when span is { } window && TryUnixNanos(value, out var at):
                scaled = (double)((Int128)at - window.StartUnixNano);
                break;
            default:
                return false;
        }

        scaled = Math.Round(scaled, MidpointRounding.AwayFromZero);
        if (!double.IsFinite(scaled) || scaled < 0 || scaled > MaxTimeToFirstTokenNanos
            || (span is { } s && scaled > Math.Max(0, (double)((Int128)s.EndUnixNano - s.StartUnixNano))))
        {
            return false;
        }

        nanos = (long)scaled;
        return true;
    }

    /// <summary>A number: a double, an int, or a numeric string.</summary>
    private static bool TryNumber(AnyValue? value, out double number)
    {
        number = 0;
        switch (value?.ValueCase)
        {
            case AnyValue.ValueOneofCase.DoubleValue:
                number = value.DoubleValue;
                return true;
            case AnyValue.ValueOneofCase.IntValue:
                number = value.IntValue;
                return true;
            case AnyValue.ValueOneofCase.StringValue:
                return double.TryParse(value.StringValue, NumberStyles.Float, CultureInfo.InvariantCulture, out number);
            default:
                return false;
        }
    }

    /// <summary>
    /// A point in time as Unix nanoseconds: an RFC 3339 date and time (JSON-quoted too, as the Langfuse SDKs
    /// send it; UTC without an offset), or Unix time as a number, whose unit its size tells (seconds below
    /// 10^11, milliseconds below 10^14, microseconds below 10^17, else nanoseconds).
    /// </summary>
    private static bool TryUnixNanos(AnyValue? value, out long unixNanos)
    {
        unixNanos = 0;
        if (value is { ValueCase: AnyValue.ValueOneofCase.StringValue })
        {
            var text = value.StringValue.Trim();
            if (text.Length >= 2 && text[0] == '"' && text[^1] == '"')
            {
                text = text[1..^1];
            }

            if (Rfc3339.TryParseUnixNanos(text, out unixNanos, offsetRequired: false))
            {
                return unixNanos >= 0;
            }
        }

        // Whole and fraction apart: as one double, Unix nanoseconds of today lose their last two or three digits.
        if (value is { ValueCase: AnyValue.ValueOneofCase.IntValue })
        {
            return TryScaleUnix(value.IntValue, 0, out unixNanos);
        }

        if (value is { ValueCase: AnyValue.ValueOneofCase.StringValue }
            && long.TryParse(value.StringValue.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var digits))
        {
            return TryScaleUnix(digits, 0, out unixNanos);
        }

        if (!TryNumber(value, out var number) || !double.IsFinite(number) || number < 0 || number >= 9.2233720368547758E18)
        {
            return false;
        }

        var whole = Math.Floor(number);
        return TryScaleUnix((long)whole, number - whole, out unixNanos);
    }

    /// <summary>Unix time <paramref name="whole"/> + <paramref name="fraction"/> in the unit its size tells (<see cref="TryUnixNanos"/>), as nanoseconds.</summary>
    private static bool TryScaleUnix(long whole, double fraction, out long unixNanos)
    {
        unixNanos = 0;
        if (whole <= 0)
        {
            return false;
        }

        long factor = whole < 100_000_000_000 ? 1_000_000_000 : whole < 100_000_000_000_000 ? 1_000_000 : whole < 100_000_000_000_000_000 ? 1_000 : 1;
        var nanos = ((Int128)whole * factor) + (long)Math.Round(fraction * factor);
        if (nanos > long.MaxValue)
        {
            return false;
        }

        unixNanos = (long)nanos;
        return true;
    }

    /// <summary>Content is a string, or (gen_ai.*.messages in their structured form) an array or map.</summary>
    private static bool IsText(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue.Length > 0,
        AnyValue.ValueOneofCase.ArrayValue or AnyValue.ValueOneofCase.KvlistValue => true,
        _ => false,
    };

    private static string TextOf(AnyValue value)
        => value.ValueCase == AnyValue.ValueOneofCase.StringValue ? value.StringValue : AttributeJson.ToJson(value);
}
