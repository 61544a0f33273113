using System.Text.Json;
using Confluent.Kafka;
using Google.Protobuf;
using Microsoft.AspNetCore.Http.HttpResults;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Json;
using Trulayer.Otlp.Pipeline;
using Trulayer.Processor.DeadLetters;
using Trulayer.Processor.Pipeline;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;
using Trulayer.ServiceDefaults.OpenApi;

namespace Trulayer.Processor.Api;

/// <summary>A dead letter as the API shows it (README.md, "Dead letters").</summary>
internal sealed record DeadLetterView(
    string Id, string Signal, string? Key, string? ProjectId, string? OrganizationId,
    string Topic, int Partition, long Offset, string Stage, string Reason, DateTime FailedAt, int? Count, int Size,
    string Status, DateTime? ResolvedAt, string? ResolvedBy, int ReplayAttempts, DateTime? LastReplayAt, string? LastReplayOutcome)
{
    public static DeadLetterView Of(DeadLetterEntry e) => new(
        e.Id.ToString("D"), e.Signal, e.Key, e.ProjectId?.ToString("D"), e.OrganizationId?.ToString("D"),
        e.Topic, e.Partition, e.Offset, e.Stage, e.Reason, e.FailedAt, e.ItemCount, e.Size,
        e.Status, e.ResolvedAt, e.ResolvedBy, e.ReplayAttempts, e.LastReplayAt, e.LastReplayOutcome);
}

/// <summary>One dead letter with its bytes (base64) and, when they decode, its spans or log records as OTLP/JSON.</summary>
internal sealed record DeadLetterDetail(DeadLetterView DeadLetter, string? Value, JsonElement? Decoded, string? DecodeError);

internal sealed record DeadLetterList(IReadOnlyList<DeadLetterView> DeadLetters);

/// <summary>
/// <c>GET /v1/dlq</c>, <c>GET /v1/dlq/{id}</c> (owner, member, viewer), <c>POST /v1/dlq/{id}/replay</c> and
/// <c>POST /v1/dlq/{id}/discard</c> (owner): the caller's organization's dead letters.
/// </summary>
internal static class DeadLetterApi
{
    public const string NextCursorHeader = "X-Next-Cursor";
    private const int DefaultLimit = 100, MaxLimit = 1000;

    public static IEndpointRouteBuilder MapDeadLetterApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/dlq").RequireAuthorization(ProcessorApi.SessionPolicy);
        group.MapGet("", ListAsync).WithQueryParameters(
            new DocumentedQueryParameter("project_id", "Only dead letters of this project of the caller's organization", Format: "uuid"),
            new DocumentedQueryParameter("from", "Dead letters recorded at or after this time (RFC 3339)", Format: "date-time"),
            new DocumentedQueryParameter("to", "Dead letters recorded before this time (RFC 3339)", Format: "date-time"),
            new DocumentedQueryParameter("limit", "Entries per page, 1 to 1000 (default 100)", "integer"),
            new DocumentedQueryParameter("cursor", "The X-Next-Cursor of the previous page"));
        group.MapGet("/{id}", GetAsync);
        group.MapPost("/{id}/replay", ReplayAsync);
        group.MapPost("/{id}/discard", DiscardAsync);
        return app;
    }

    internal static async Task<Results<Ok<DeadLetterList>, JsonHttpResult<ErrorResponse>>> ListAsync(
        HttpContext context, CallerIdentity caller, DeadLetterStore store, DeadLetterCursor cursors, CancellationToken cancellationToken)
    {
        var query = new QueryReader(context.Request.Query);
        DateTime? from = null, to = null;
        var limit = DefaultLimit;
        if ((query.Unexpected("project_id", "from", "to", "limit", "cursor")
             ?? query.Time("from", out from)
             ?? query.Time("to", out to)
             ?? query.Limit(DefaultLimit, MaxLimit, out limit)) is { } bad)
        {
            return ProcessorApi.BadRequest(bad);
        }

        if (from >= to)
        {
            return ProcessorApi.BadRequest($"from must be before to (from {from:O}, to {to:O})");
        }

        if (query.Project(caller, out var project) is { } refused)
        {
            return refused;
        }

        var binding = DeadLetterCursor.Binding(caller.OrganizationId, project, from, to, limit);
        (DateTime, Guid)? after = null;
        if (query.Text("cursor") is { } cursor)
        {
            after = cursors.Unprotect(cursor, binding, out var error);
            if (after is null)
            {
                return ProcessorApi.BadRequest(error!);
            }
        }

        var entries = await store.ListAsync(new DeadLetterQuery(Scope(caller), project, from, to, limit + 1, after), cancellationToken);
        if (entries.Count > limit)
        {
            entries.RemoveAt(limit);
            var last = entries[^1];
            context.Response.Headers[NextCursorHeader] = cursors.Protect(binding, last.FailedAt, last.Id);
        }

        return TypedResults.Ok(new DeadLetterList([.. entries.Select(DeadLetterView.Of)]));
    }

    internal static async Task<Results<Ok<DeadLetterDetail>, JsonHttpResult<ErrorResponse>>> GetAsync(
        string id, CallerIdentity caller, DeadLetterStore store, CancellationToken cancellationToken)
    {
        if (ParseId(id, out var entryId) is { } bad)
        {
            return bad;
        }

        if (await store.FindAsync(Scope(caller), entryId, cancellationToken) is not { } entry)
        {
            return NotFound(entryId);
        }

        var (decoded, decodeError) = Decode(entry);
        return TypedResults.Ok(new DeadLetterDetail(
            DeadLetterView.Of(entry), entry.Value is null ? null : Convert.ToBase64String(entry.Value), decoded, decodeError));
    }

    internal static async Task<Results<Ok<DeadLetterView>, JsonHttpResult<ErrorResponse>>> ReplayAsync(
        string id, CallerIdentity caller, DeadLetterStore store, RecordBatchHandler<DecodedRecord> spans, RecordBatchHandler<DecodedLogRecord> logs,
        CancellationToken cancellationToken)
    {
        if (ProcessorApi.Refuse(caller, "replay a dead letter", Roles.Owner) is { } refused)
        {
            return refused;
        }

        if (ParseId(id, out var entryId) is { } bad)
        {
            return bad;
        }

        var (entry, replayed) = await store.ReplayAsync(Scope(caller), entryId, caller.Subject, e =>
        {
            var source = new ConsumeResult<byte[]?, byte[]?>
            {
                Message = new Message<byte[]?, byte[]?> { Key = e.KeyBytes, Value = e.Value },
                TopicPartitionOffset = new TopicPartitionOffset(e.Topic, e.Partition, e.Offset),
            };
            return e.Signal == LogSignal.SignalName ? logs.Replay(source) : spans.Replay(source);
        }, cancellationToken);
        return entry is null ? NotFound(entryId)
            : !replayed ? AlreadyResolved(entry)
            : TypedResults.Ok(DeadLetterView.Of(entry));
    }

    internal static async Task<Results<Ok<DeadLetterView>, JsonHttpResult<ErrorResponse>>> DiscardAsync(
        string id, CallerIdentity caller, DeadLetterStore store, CancellationToken cancellationToken)
    {
        if (ProcessorApi.Refuse(caller, "discard a dead letter", Roles.Owner) is { } refused)
        {
            return refused;
        }

        if (ParseId(id, out var entryId) is { } bad)
        {
            return bad;
        }

        var (entry, changed) = await store.DiscardAsync(Scope(caller), entryId, caller.Subject, cancellationToken);
        return entry is null ? NotFound(entryId)
            : !changed ? AlreadyResolved(entry)
            : TypedResults.Ok(DeadLetterView.Of(entry));
    }

    private static DeadLetterScope Scope(CallerIdentity caller) => new(caller.OrganizationId, caller.ProjectIds);

    private static JsonHttpResult<ErrorResponse>? ParseId(string id, out Guid entryId)
        => Guid.TryParse(id, out entryId) ? null : ProcessorApi.BadRequest($"id '{RecordRejectedException.Truncate(id)}' is not a dead letter id (a UUID from GET /v1/dlq)");

    private static JsonHttpResult<ErrorResponse> NotFound(Guid id) => ProcessorApi.NotFound($"no dead letter {id} in your organization");

    private static JsonHttpResult<ErrorResponse> AlreadyResolved(DeadLetterEntry entry)
        => ErrorResponse.Result(StatusCodes.Status409Conflict,
            $"dead letter {entry.Id} is already {entry.Status} ({entry.ResolvedAt:O} by {entry.ResolvedBy ?? "unknown"}): nothing was done");

    /// <summary>The record's spans (TracesData) or log records (LogsData) as OTLP/JSON, or why they do not decode.</summary>
    private static (JsonElement? Decoded, string? Error) Decode(DeadLetterEntry entry)
    {
        if (entry.Value is not { Length: > 0 } value)
        {
            return (null, "the record has no value");
        }

        try
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                if (entry.Signal == LogSignal.SignalName)
                {
                    var batch = LogBatch.Parser.ParseFrom(value);
                    var data = new LogsData();
                    data.ResourceLogs.Add(batch.ResourceLogs);
                    OtlpJsonWriter.WriteLogsData(writer, data);
                }
                else
                {
                    var batch = SpanBatch.Parser.ParseFrom(value);
                    var data = new TracesData();
                    data.ResourceSpans.Add(batch.ResourceSpans);
                    OtlpJsonWriter.WriteTracesData(writer, data);
                }
            }

            return (JsonDocument.Parse(buffer.ToArray()).RootElement.Clone(), null);
        }
        catch (InvalidProtocolBufferException ex)
        {
            return (null, $"the value is not a {(entry.Signal == LogSignal.SignalName ? "LogBatch" : "SpanBatch")}: {ex.Message}");
        }
    }
}
