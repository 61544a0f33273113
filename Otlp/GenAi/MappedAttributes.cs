namespace Trulayer.Otlp.GenAi;

/// <summary>
/// The attribute keys <see cref="GenAiMapper"/> and <see cref="SpanTypeRules"/> read. Both give the same
/// result for a span's full attribute list and for just the attributes whose keys this selects, so a
/// caller that reads the wire format can materialize only these.
/// </summary>
public static class MappedAttributes
{
    private static readonly byte[][] Prefixes =
    [
        "gen_ai."u8.ToArray(), "llm."u8.ToArray(), "ai."u8.ToArray(), "langfuse."u8.ToArray(), "traceloop."u8.ToArray(),
    ];

    private static readonly byte[][] Keys =
    [
        .. SpanTypeRules.Attributes.Concat(GenAiPrecedence.Table.Select(r => r.Attribute)).Distinct()
            .Select(k => System.Text.Encoding.UTF8.GetBytes(k))
            .Where(k => !Prefixes.Any(p => k.AsSpan().StartsWith(p))),
    ];

    /// <summary>Whether the mapping reads the attribute with this UTF-8 key.</summary>
    public static bool IsMapped(ReadOnlySpan<byte> utf8Key)
    {
        foreach (var prefix in Prefixes)
        {
            if (utf8Key.StartsWith(prefix))
            {
                return true;
            }
        }

        foreach (var key in Keys)
        {
            if (utf8Key.SequenceEqual(key))
            {
                return true;
            }
        }

        return false;
    }

    public static bool IsMapped(string key) => IsMapped(System.Text.Encoding.UTF8.GetBytes(key));
}
