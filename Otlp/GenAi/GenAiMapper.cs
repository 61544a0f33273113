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
}

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

    private static readonly int FieldCount = Enum.GetValues<GenAiField>().Length;

    public static GenAiFields Map(IReadOnlyList<KeyValue> attributes, int maxTextBytes = DefaultMaxTextBytes)
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

                var usable = row.Field switch
                {
                    GenAiField.LlmSystem or GenAiField.RequestModel or GenAiField.ResponseModel or GenAiField.SessionId or GenAiField.UserId
                        => value is { ValueCase: AnyValue.ValueOneofCase.StringValue } && value.StringValue.Length > 0,
                    GenAiField.SystemInstructions => IsText(value),
                    GenAiField.Cost => TryCostMicros(value, out numbers[field]),
                    _ => TryCount(value, out numbers[field]),
                };
                if (usable)
                {
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
        double amount;
        switch (value?.ValueCase)
        {
            case AnyValue.ValueOneofCase.DoubleValue:
                amount = value.DoubleValue;
                break;
            case AnyValue.ValueOneofCase.IntValue:
                amount = value.IntValue;
                break;
            case AnyValue.ValueOneofCase.StringValue when double.TryParse(value.StringValue, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed):
                amount = parsed;
                break;
            default:
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
