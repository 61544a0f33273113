using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Processor.Api;

/// <summary>
/// The processor's HTTP routes, behind the gateway (cluster <c>processor</c>): dead letters
/// (<see cref="DeadLetterApi"/>) and model prices (<see cref="ModelPriceApi"/>). Every route needs the
/// gateway's identity assertion of a dashboard session; which roles may do what is checked per route, as
/// allowlists, never ranks.
/// </summary>
internal static class ProcessorApi
{
    public const string SessionPolicy = "dashboard-session";

    public static IEndpointRouteBuilder MapProcessorApi(this IEndpointRouteBuilder app)
    {
        app.MapDeadLetterApi();
        app.MapModelPriceApi();
        return app;
    }

    public static bool IsSession(CallerIdentity caller) => caller.Kind == CallerKind.Session && Roles.IsKnown(caller.Role);

    /// <summary>403 naming the roles <paramref name="what"/> needs, or null when the caller's role is one of them.</summary>
    public static JsonHttpResult<ErrorResponse>? Refuse(CallerIdentity caller, string what, params string[] roles)
        => roles.Contains(caller.Role)
            ? null
            : ErrorResponse.Result(StatusCodes.Status403Forbidden,
                $"role '{caller.Role}' may not {what}; it needs {string.Join(" or ", roles.Select(r => $"'{r}'"))}");

    public static JsonHttpResult<ErrorResponse> BadRequest(string message) => ErrorResponse.Result(StatusCodes.Status400BadRequest, message);

    public static JsonHttpResult<ErrorResponse> NotFound(string message) => ErrorResponse.Result(StatusCodes.Status404NotFound, message);
}

/// <summary>A route's query string, read the way every Trulayer read route reads it (DESIGN.md, "Query conventions").</summary>
internal sealed class QueryReader(IQueryCollection query)
{
    public const string Example = "2026-04-20T00:00:00Z";

    /// <summary>A parameter the route does not take, or one given twice: the message, else null.</summary>
    public string? Unexpected(params string[] known)
    {
        foreach (var (name, values) in query)
        {
            if (!known.Contains(name))
            {
                return $"unknown parameter '{name}': this route takes {string.Join(", ", known)}";
            }

            if (values.Count > 1)
            {
                return $"parameter '{name}' is given {values.Count} times: give it once";
            }
        }

        return null;
    }

    public string? Text(string name) => query[name].ToString() is { Length: > 0 } value ? value : null;

    /// <summary>An RFC 3339 time with an offset, or null when absent; the message when malformed.</summary>
    public string? Time(string name, out DateTime? time)
    {
        time = null;
        if (Text(name) is not { } text)
        {
            return null;
        }

        // The offset is required; an unencoded '+' arrives as a space.
        var normalized = text.Length > 6 && text[^6] == ' ' ? text[..^6] + "+" + text[^5..] : text;
        var hasOffset = normalized.EndsWith('Z') || normalized.EndsWith('z') || (normalized.Length > 6 && normalized[^6] is '+' or '-' && normalized[^3] == ':');
        if (!hasOffset || normalized.Length < 20 || normalized[10] is not ('T' or 't')
            || !DateTimeOffset.TryParse(normalized, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
        {
            return $"{name} '{text}' is not an RFC 3339 time with an offset, e.g. {Example}";
        }

        time = parsed.UtcDateTime;
        return null;
    }

    /// <summary>limit: a whole number from 1 to <paramref name="max"/>, <paramref name="fallback"/> when absent.</summary>
    public string? Limit(int fallback, int max, out int limit)
    {
        limit = fallback;
        if (Text("limit") is not { } text)
        {
            return null;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > max)
        {
            return $"limit '{text}' must be a whole number from 1 to {max}";
        }

        return null;
    }

    /// <summary>project_id: one of the caller's projects (404 otherwise), or null when absent.</summary>
    public JsonHttpResult<ErrorResponse>? Project(CallerIdentity caller, out Guid? project)
    {
        project = null;
        if (Text("project_id") is not { } text)
        {
            return null;
        }

        if (!Guid.TryParse(text, out var id))
        {
            return ProcessorApi.BadRequest($"project_id '{text}' is not a UUID");
        }

        if (!caller.CanAccess(id))
        {
            return ProcessorApi.NotFound($"project {id} not found in your organization");
        }

        project = id;
        return null;
    }
}
