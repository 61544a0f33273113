using System.Globalization;
using System.Text.RegularExpressions;

namespace Trulayer.AppHost.Publish;

/// <summary>What a plain (unquoted) YAML scalar turns into.</summary>
public enum PlainScalarKind
{
    String,
    Null,
    Bool,
    Int,
    Float,
    Timestamp,
}

/// <summary>
/// Reads a plain YAML scalar the way kubectl does: it turns a manifest into JSON with sigs.k8s.io/yaml,
/// which resolves scalars by go-yaml v2's YAML 1.1 rules. There <c>on</c>, <c>y</c> and <c>no</c> are
/// booleans, <c>010</c> is octal, <c>1_000</c> and <c>1e3</c> are numbers, so a string field written
/// with such a value unquoted reaches the API server as a bool or number and is refused.
/// </summary>
public static partial class PlainScalar
{
    private static readonly Dictionary<string, (PlainScalarKind Kind, object? Value)> Words = new(StringComparer.Ordinal)
    {
        [""] = (PlainScalarKind.Null, null),
        ["~"] = (PlainScalarKind.Null, null),
        ["null"] = (PlainScalarKind.Null, null),
        ["Null"] = (PlainScalarKind.Null, null),
        ["NULL"] = (PlainScalarKind.Null, null),
        [".nan"] = (PlainScalarKind.Float, double.NaN),
        [".NaN"] = (PlainScalarKind.Float, double.NaN),
        [".NAN"] = (PlainScalarKind.Float, double.NaN),
    };

    static PlainScalar()
    {
        foreach (var word in (string[])["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"])
        {
            Words[word] = (PlainScalarKind.Bool, true);
        }

        foreach (var word in (string[])["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"])
        {
            Words[word] = (PlainScalarKind.Bool, false);
        }

        foreach (var infinity in (string[])[".inf", ".Inf", ".INF"])
        {
            Words[infinity] = (PlainScalarKind.Float, double.PositiveInfinity);
            Words["+" + infinity] = (PlainScalarKind.Float, double.PositiveInfinity);
            Words["-" + infinity] = (PlainScalarKind.Float, double.NegativeInfinity);
        }
    }

    /// <summary>The kind and value (null, bool, long, ulong, double or the text) kubectl reads from a plain scalar.</summary>
    public static (PlainScalarKind Kind, object? Value) Resolve(string text)
    {
        if (Words.TryGetValue(text, out var word))
        {
            return word;
        }

        var first = text[0];
        if (first == '.')
        {
            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var fraction) && YamlFloat().IsMatch(text)
                ? (PlainScalarKind.Float, fraction)
                : (PlainScalarKind.String, text);
        }

        if (!char.IsAsciiDigit(first) && first is not ('+' or '-'))
        {
            return (PlainScalarKind.String, text);
        }

        if (Timestamp().IsMatch(text))
        {
            return (PlainScalarKind.Timestamp, text);
        }

        var plain = text.Replace("_", "", StringComparison.Ordinal);
        if (GoInteger(plain) is { } integer)
        {
            return (PlainScalarKind.Int, integer);
        }

        if (YamlFloat().IsMatch(plain) && double.TryParse(plain, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return (PlainScalarKind.Float, number);
        }

        return (PlainScalarKind.String, text);
    }

    /// <summary>Go's strconv.ParseInt(s, 0, 64), then ParseUint: a sign, then 0x, 0o, 0b or a leading 0 (octal) or decimal.</summary>
    private static object? GoInteger(string text)
    {
        var negative = text.StartsWith('-');
        var digits = text.StartsWith('-') || text.StartsWith('+') ? text[1..] : text;
        var (radix, body) = digits switch
        {
            ['0', 'x' or 'X', .. var rest] => (16, rest),
            ['0', 'o' or 'O', .. var rest] => (8, rest),
            ['0', 'b' or 'B', .. var rest] => (2, rest),
            ['0', _, ..] => (8, digits[1..]),
            _ => (10, digits),
        };
        if (body.Length == 0)
        {
            return null;
        }

        System.Numerics.BigInteger value = 0;
        foreach (var c in body)
        {
            var digit = char.IsAsciiDigit(c) ? c - '0' : char.IsAsciiLetter(c) ? char.ToLowerInvariant(c) - 'a' + 10 : radix;
            if (digit >= radix)
            {
                return null;
            }

            value = value * radix + digit;
        }

        if (negative)
        {
            value = -value;
        }

        return value >= long.MinValue && value <= long.MaxValue ? (long)value
            : !negative && text[0] != '+' && value <= ulong.MaxValue ? (ulong)value
            : null;
    }

    // go-yaml v2's yamlStyleFloat.
    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex YamlFloat();

    // The layouts go-yaml v2 tries: a date, optionally with a time ("T", "t" or a space) and a zone.
    [GeneratedRegex(@"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(([Tt]| +)[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]*)?( *(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?)?$")]
    private static partial Regex Timestamp();
}
