using Npgsql;
using Trulayer.Export.Output;
using Trulayer.Export.Storage;
using Trulayer.ServiceDefaults.Http;

namespace Trulayer.Export.Http;

/// <summary>
/// A 200 whose body is a <see cref="SpanPage"/> streamed as OTLP TracesData (or, for a page of log
/// records, LogsData: <paramref name="signal"/>) in <paramref name="format"/>,
/// with <c>X-Next-Cursor</c> when more remain. If reading fails once the body has begun, the connection is
/// aborted: the client sees a broken transfer, never a well-formed but incomplete page.
/// </summary>
internal sealed partial class SpanStreamResult(SpanPage page, OtlpFormat format, string? nextCursor, ILogger logger, OtlpSignal signal = OtlpSignal.Traces) : IResult
{
    public string? NextCursor => nextCursor;

    public async Task ExecuteAsync(HttpContext context)
    {
        await using var owned = page;
        var response = context.Response;
        var writer = format.CreateWriter(response.BodyWriter, signal);
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = writer.ContentType;
        if (nextCursor is not null)
        {
            response.Headers[ExportApi.NextCursorHeader] = nextCursor;
        }

        try
        {
            await page.WriteAsync(writer, context.RequestAborted);
            Log.Streamed(logger, page.SpanCount, page.Groups.Count, format, nextCursor is not null);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or IOException)
        {
            Log.StreamFailed(logger, ex, page.SpanCount, response.HasStarted);
            if (response.HasStarted)
            {
                context.Abort();
                return;
            }

            response.Headers.Remove(ExportApi.NextCursorHeader);
            response.Headers.RetryAfter = "1";
            await ErrorResponse.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, ExportApi.StoreUnavailable);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5001, Level = LogLevel.Debug, Message = "Streamed {Spans} spans in {Groups} groups as {Format} (more remain: {More})")]
        public static partial void Streamed(ILogger logger, long spans, int groups, OtlpFormat format, bool more);

        [LoggerMessage(EventId = 5002, Level = LogLevel.Error, Message = "Streaming a page of {Spans} spans failed (response started: {Started})")]
        public static partial void StreamFailed(ILogger logger, Exception exception, long spans, bool started);
    }
}
