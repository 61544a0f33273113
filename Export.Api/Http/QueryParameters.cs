using System.Globalization;
using Trulayer.Otlp;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Export.Http;

/// <summary>A request refused before it reached the store: the status and a message that says what to change.</summary>
internal sealed record Refusal(int StatusCode, string Message)
{
    public static Refusal BadRequest(string message) => new(StatusCodes.Status400BadRequest, message);
}

/// <summary>An exact match on an attribute's value: <c>attr.&lt;key&gt;=&lt;value&gt;</c> or <c>resource.&lt;key&gt;=&lt;value&gt;</c>.</summary>
internal sealed record ExactFilter(string Key, string Value)
{
    public override string ToString() => Key + "=" + Value;
}

/// <summary>The query parameters the export routes share, validated; every refusal names its parameter.</summary>
internal static class QueryParameters
{
    public const string From = "from";
    public const string To = "to";
    public const string ProjectId = "project_id";
    public const string Limit = "limit";
    public const string Cursor = "cursor";

    /// <summary>
    /// The [from, to) window in unix nanoseconds. Each bound is required unless <paramref name="required"/>
    /// is false (then absent bounds are open: 0 and long.MaxValue).
    /// </summary>
    public static Refusal? Window(IQueryCollection query, bool required, TimeSpan? maxWindow, out long from, out long to)
    {
        to = long.MaxValue;
        if (Time(query, From, required, 0, out from) is { } badFrom)
        {
            return badFrom;
        }

        if (Time(query, To, required, long.MaxValue, out to) is { } badTo)
        {
            return badTo;
        }

        if (to < from)
        {
            return Refusal.BadRequest($"{To} ({query[To]}) is before {From} ({query[From]}): the window runs from {From} up to, not including, {To}");
        }

        if (maxWindow is { } max && (Int128)to - from > (Int128)max.Ticks * 100)
        {
            var days = ((double)((Int128)to - from) / 86_400e9).ToString("0.##", CultureInfo.InvariantCulture);
            return Refusal.BadRequest(
                $"the window from {From} to {To} spans {days} days, over the maximum of {max.TotalDays.ToString("0.##", CultureInfo.InvariantCulture)} days (Export:MaxWindow): " +
                "ask for a narrower window, and export a longer period window by window");
        }

        return null;
    }

    private static Refusal? Time(IQueryCollection query, string name, bool required, long absent, out long unixNanos)
    {
        unixNanos = absent;
        var value = query[name].ToString();
        if (value.Length == 0)
        {
            return required ? Refusal.BadRequest($"{name} is missing: add {name}=<RFC 3339 time>, e.g. {name}={Rfc3339.Example}") : null;
        }

        return Rfc3339.TryParseUnixNanos(value, out unixNanos)
            ? null
            : Refusal.BadRequest($"{name} '{Shorten(value)}' is not an RFC 3339 time between 1678 and 2262 with an offset: e.g. {Rfc3339.Example} or 2026-04-20T02:00:00%2B02:00 (encode '+' as %2B)");
    }

    /// <summary><c>limit</c>: absent gives <paramref name="byDefault"/>; else a whole number from 1 to <paramref name="max"/>.</summary>
    public static Refusal? PageLimit(IQueryCollection query, int byDefault, int max, out int limit)
    {
        limit = byDefault;
        var value = query[Limit].ToString();
        if (value.Length == 0)
        {
            return null;
        }

        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit >= 1 && limit <= max
            ? null
            : Refusal.BadRequest($"{Limit} '{Shorten(value)}' is not a whole number from 1 to {max}");
    }

    /// <summary>
    /// The projects to read: the one <c>project_id</c> names, which must be one of the caller's (else 404,
    /// as for a project that does not exist), or without it every project of the caller, in a stable order.
    /// </summary>
    public static Refusal? Projects(IQueryCollection query, CallerIdentity caller, out IReadOnlyList<Guid> projects)
    {
        var value = query[ProjectId].ToString();
        if (value.Length == 0)
        {
            projects = [.. caller.ProjectIds.Distinct().Order()];
            return null;
        }

        projects = [];
        if (!Guid.TryParse(value, out var project))
        {
            return Refusal.BadRequest($"{ProjectId} '{Shorten(value)}' is not a project id (a UUID): leave it out to read every project of your organization");
        }

        if (!caller.CanAccess(project))
        {
            return new Refusal(StatusCodes.Status404NotFound, $"project {project} not found among your organization's projects");
        }

        projects = [project];
        return null;
    }

    /// <summary>The longest key or value an <c>attr.&lt;key&gt;</c> or <c>resource.&lt;key&gt;</c> filter may give.</summary>
    public const int MaxAttributeFilterLength = 1024;

    public const string AttributePrefix = "attr.";
    public const string ResourcePrefix = "resource.";

    /// <summary>
    /// The exact-match filters <c>&lt;prefix&gt;&lt;key&gt;=&lt;value&gt;</c> of the query (<see cref="AttributePrefix"/>,
    /// <see cref="ResourcePrefix"/>), in key order; each key once, with a value.
    /// </summary>
    public static Refusal? ExactFilters(IQueryCollection query, string prefix, out IReadOnlyList<ExactFilter> filters)
    {
        var found = new List<ExactFilter>();
        filters = found;
        foreach (var (name, values) in query)
        {
            if (!name.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            var key = name[prefix.Length..];
            if (key.Length is 0 or > MaxAttributeFilterLength)
            {
                return Refusal.BadRequest($"{Shorten(name)} names no attribute: write {prefix}<key>=<value>, the key at most {MaxAttributeFilterLength} characters, e.g. {prefix}deployment.environment=production");
            }

            if (values.Count != 1 || values[0] is not { Length: > 0 and <= MaxAttributeFilterLength } value)
            {
                return Refusal.BadRequest($"{Shorten(name)} needs exactly one value of 1 to {MaxAttributeFilterLength} characters (the attribute's value, matched exactly)");
            }

            found.Add(new ExactFilter(key, value));
        }

        found.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return null;
    }

    /// <summary>A text filter: absent or empty gives null; longer than <paramref name="max"/> characters is refused.</summary>
    public static Refusal? Text(IQueryCollection query, string name, out string? text, int max = ExportApi.MaxFilterLength)
    {
        text = query[name].ToString() is { Length: > 0 } value ? value : null;
        return text is { } given && given.Length > max ? Refusal.BadRequest($"{name} '{Shorten(given)}' is longer than {max} characters") : null;
    }

    /// <summary><c>status</c>: <c>ok</c>, <c>error</c> or <c>unset</c> as the OTLP status code (1, 2, 0); null when absent.</summary>
    public static Refusal? Status(IQueryCollection query, out short? code)
    {
        code = null;
        if (Text(query, "status", out var text) is { } bad)
        {
            return bad;
        }

        if (text is null)
        {
            return null;
        }

        code = text.ToLowerInvariant() switch
        {
            "unset" => 0,
            "ok" => 1,
            "error" => 2,
            _ => null,
        };
        return code is null ? Refusal.BadRequest($"status '{Shorten(text)}' is not a status: use ok, error or unset") : null;
    }

    public static string Shorten(string value) => value.Length > 64 ? value[..64] + "..." : value;
}
