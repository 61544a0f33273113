using System.Globalization;
using System.Text.RegularExpressions;

namespace Trulayer.Otlp;

/// <summary>
/// RFC 3339 date-times (<c>2026-04-20T00:00:00Z</c>, <c>2026-04-20T09:30:00.123456789+02:00</c>) as unix
/// nanoseconds, to the nanosecond. A space where the offset's sign should be is read as '+': an unencoded '+'
/// in a query string arrives as a space. The one reader of such times: the query routes' <c>from</c> and
/// <c>to</c> (offset required), and the GenAI mapping's completion start time (a time without an offset, as
/// Python's <c>datetime.isoformat()</c> writes a naive one, read as UTC).
/// </summary>
public static partial class Rfc3339
{
    public const string Example = "2026-04-20T00:00:00Z";

    [GeneratedRegex(@"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9})\d*)?(?:([Zz])|([+\- ])(\d{2}):(\d{2}))?$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    /// <summary>
    /// Unix nanoseconds of <paramref name="text"/>, or false when it is not an RFC 3339 time PostgreSQL spans can have.
    /// With <paramref name="offsetRequired"/> false, a time without an offset is taken as UTC.
    /// </summary>
    public static bool TryParseUnixNanos(string text, out long unixNanos, bool offsetRequired = true)
    {
        unixNanos = 0;
        var match = Pattern().Match(text);
        if (!match.Success || (offsetRequired && !match.Groups[8].Success && !match.Groups[9].Success))
        {
            return false;
        }

        int Part(int group) => int.Parse(match.Groups[group].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture);
        DateTime local;
        try
        {
            local = new DateTime(Part(1), Part(2), Part(3), Part(4), Part(5), Part(6), DateTimeKind.Unspecified);
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }

        var offsetMinutes = 0;
        if (match.Groups[9].Success)
        {
            var hours = Part(10);
            var minutes = Part(11);
            if (hours > 23 || minutes > 59)
            {
                return false;
            }

            offsetMinutes = (match.Groups[9].Value == "-" ? -1 : 1) * ((hours * 60) + minutes);
        }

        var fraction = match.Groups[7].Success ? match.Groups[7].Value.PadRight(9, '0') : "0";
        var nanos = ((Int128)(local - DateTime.UnixEpoch).Ticks * 100)
                    - ((Int128)offsetMinutes * 60 * 1_000_000_000)
                    + long.Parse(fraction, NumberStyles.None, CultureInfo.InvariantCulture);
        if (nanos < long.MinValue || nanos > long.MaxValue)
        {
            return false;
        }

        unixNanos = (long)nanos;
        return true;
    }

    /// <summary>The time as RFC 3339 in UTC with nine fractional digits.</summary>
    public static string Format(long unixNanos)
    {
        var seconds = Math.DivRem(unixNanos, 1_000_000_000L, out var remainder);
        if (remainder < 0)
        {
            seconds--;
            remainder += 1_000_000_000L;
        }

        var time = DateTime.UnixEpoch.AddSeconds(seconds);
        return string.Create(CultureInfo.InvariantCulture, $"{time:yyyy-MM-ddTHH:mm:ss}.{remainder:D9}Z");
    }
}
