using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Trulayer.ServiceDefaults.Http;

/// <summary>
/// Gives every request an <c>X-Correlation-Id</c>: the caller's when it sent a sane one, else a new one.
/// It goes back on the response and into the logging scope of everything the request logs, so one id
/// finds a request in the logs of the gateway and of every service behind it.
/// </summary>
public sealed class CorrelationIdMiddleware(RequestDelegate next, ILogger<CorrelationIdMiddleware> logger)
{
    public const string HeaderName = "X-Correlation-Id";
    private const int MaxLength = 128;

    public async Task InvokeAsync(HttpContext context)
    {
        var id = Accept(context.Request.Headers[HeaderName].ToString()) ?? Guid.NewGuid().ToString("N");
        context.Request.Headers[HeaderName] = id;
        context.TraceIdentifier = id;
        context.Response.OnStarting(() =>
        {
            context.Response.Headers[HeaderName] = id;
            return Task.CompletedTask;
        });
        using (logger.BeginScope(new Dictionary<string, object> { ["CorrelationId"] = id }))
        {
            await next(context);
        }
    }

    /// <summary>The id if it is short and made of safe characters (it is echoed into headers and logs).</summary>
    public static string? Accept(string? candidate)
    {
        if (string.IsNullOrEmpty(candidate) || candidate.Length > MaxLength)
        {
            return null;
        }

        foreach (var c in candidate)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
            {
                return null;
            }
        }

        return candidate;
    }
}
