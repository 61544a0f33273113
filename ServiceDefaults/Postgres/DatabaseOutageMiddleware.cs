using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Npgsql;
using Trulayer.ServiceDefaults.Http;

namespace Trulayer.ServiceDefaults.Postgres;

/// <summary>
/// A request that fails because PostgreSQL cannot be reached (down, restarting, or a pooled connection
/// the server just closed) is answered 503 with <c>Retry-After</c>, never a 500: the client should try
/// again, and will be served once the database is back. Routes that answer an outage themselves
/// (export) never let the exception reach this. Likewise a query that finds the schema older than the
/// code (a table, column or function its owner's next migration adds): 503, retried until it is there.
/// </summary>
internal sealed partial class DatabaseOutageMiddleware(RequestDelegate next, ILogger<DatabaseOutageMiddleware> logger)
{
    public const string Message = "the database cannot be reached right now: retry shortly";

    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (NpgsqlException ex) when (ex.IsTransient && !context.Response.HasStarted)
        {
            Log.Unavailable(logger, context.Request.Method, context.Request.Path.Value ?? "", ex.Message);
            await RetryLaterAsync(context, "1", Message);
        }
        catch (PostgresException ex) when (IsSchemaBehind(ex.SqlState) && !context.Response.HasStarted)
        {
            Log.SchemaBehind(logger, context.Request.Method, context.Request.Path.Value ?? "", ex.SqlState, ex.MessageText);
            await RetryLaterAsync(context, "5", SchemaBehindMessage);
        }
    }

    /// <summary>Replaces whatever the route began with a 503 the client retries after <paramref name="retryAfterSeconds"/>.</summary>
    private static Task RetryLaterAsync(HttpContext context, string retryAfterSeconds, string message)
    {
        context.Response.Clear();
        context.Response.Headers.RetryAfter = retryAfterSeconds;
        return ErrorResponse.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, message);
    }

    public const string SchemaBehindMessage = "the database schema is older than this service: its migrations are still being applied; retry shortly";

    /// <summary>
    /// What a query meets when the schema it reads is behind this service's code: during a rollout whose
    /// reader started before the schema's owner applied its migrations (a table, column, function or schema
    /// missing). Passing, so 503 and a retry, not a 500.
    /// </summary>
    private static bool IsSchemaBehind(string sqlState) => sqlState is
        PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.UndefinedColumn
        or PostgresErrorCodes.UndefinedFunction or PostgresErrorCodes.InvalidSchemaName;

    /// <summary>Puts the middleware first in the pipeline of a service that uses PostgreSQL.</summary>
    internal sealed class StartupFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseMiddleware<DatabaseOutageMiddleware>();
            next(app);
        };
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 210, Level = LogLevel.Warning, Message = "{Method} {Path}: PostgreSQL cannot be reached ({Error}); answered 503")]
        public static partial void Unavailable(ILogger logger, string method, string path, string error);

        [LoggerMessage(EventId = 211, Level = LogLevel.Warning, Message = "{Method} {Path}: the database schema is behind this service ({SqlState}: {Error}); answered 503 until its owner has applied its migrations")]
        public static partial void SchemaBehind(ILogger logger, string method, string path, string sqlState, string error);
    }
}
