using Npgsql;
using Microsoft.Extensions.Options;
using NpgsqlTypes;
using Trulayer.Processor.Pipeline;

namespace Trulayer.Processor.Storage;

/// <summary>
/// Writes a batch of decoded log records in one transaction: the records by binary COPY and the
/// resources and scopes not stored yet. A record already stored (the same identity: a retry, or a
/// re-delivery) is written once, the way <see cref="SpanBatchWriter"/> does it: straight COPY, and only
/// when that hits a stored key, the transaction again through a staging table and
/// <c>INSERT ... ON CONFLICT DO NOTHING</c>. Synchronous: it runs on the pipeline's writer thread.
/// </summary>
internal sealed class LogBatchWriter(NpgsqlDataSource dataSource, SpanStorage storage, DimensionCache cache, IOptions<ProcessorOptions> options)
{
    private readonly int _maxTextBytes = options.Value.MaxTextBytes;

    public const string Columns =
        "project_id, time, time_unix_nano, observed_unix_nano, record_id, severity_number, severity_text, severity_range, " +
        "body_text, event_name, trace_id, span_id, service_name, attr_hashes, resource_id, scope_id, otlp, received_at, batch_position";

    private const string StagingTable = "log_staging";

    public WriteResult Write(IReadOnlyList<DecodedLogRecord> records)
    {
        var rows = Distinct(records);
        storage.EnsurePartitions(SpanStorage.Logs, rows.Select(r => UnixNanos.Day(r.PartitionUnixNano)).ToHashSet());
        var dimensions = DimensionRows.Of(records.SelectMany(r => r.Resources), records.SelectMany(r => r.Scopes));

        using var connection = dataSource.OpenConnection();
        var transaction = connection.BeginTransaction();
        try
        {
            var inserted = rows.Count;
            var usedFallback = false;
            try
            {
                Copy(connection, "telemetry.logs", rows);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                transaction.Rollback();
                transaction.Dispose();
                transaction = connection.BeginTransaction();
                inserted = InsertNew(connection, transaction, rows);
                usedFallback = true;
            }

            using (var batch = new NpgsqlBatch(connection, transaction))
            {
                dimensions.AddTo(batch);
                if (batch.BatchCommands.Count > 0)
                {
                    batch.ExecuteNonQuery();
                }
            }

            // The spans of the GenAI events stored here take their content (refilled from all their events).
            EventContent.FillFromEvents(connection, transaction, rows, _maxTextBytes);
            transaction.Commit();
            dimensions.MarkStored(cache);

            return new WriteResult(inserted, records.Sum(r => r.Logs.Count) - inserted, 0, usedFallback);
        }
        finally
        {
            transaction.Dispose();
        }
    }

    /// <summary>The batch's rows, each key once: a record delivered twice in one batch, or two identical records, count once.</summary>
    private static List<LogRow> Distinct(IReadOnlyList<DecodedLogRecord> records)
    {
        var count = records.Sum(r => r.Logs.Count);
        var rows = new List<LogRow>(count);
        var keys = new HashSet<LogKey>(count);
        foreach (var record in records)
        {
            foreach (var row in record.Logs)
            {
                if (keys.Add(row.Key))
                {
                    rows.Add(row);
                }
            }
        }

        return rows;
    }

    /// <summary>The fallback: stage every row, insert those not stored yet; returns how many.</summary>
    private static int InsertNew(NpgsqlConnection connection, NpgsqlTransaction transaction, List<LogRow> rows)
    {
        using (var create = new NpgsqlCommand(
                   $"CREATE TEMP TABLE IF NOT EXISTS {StagingTable} (LIKE telemetry.logs INCLUDING DEFAULTS) ON COMMIT DELETE ROWS", connection, transaction))
        {
            create.ExecuteNonQuery();
        }

        Copy(connection, StagingTable, rows);
        using var insert = new NpgsqlCommand(
            $"INSERT INTO telemetry.logs ({Columns}) SELECT {Columns} FROM {StagingTable} ON CONFLICT DO NOTHING", connection, transaction);
        return insert.ExecuteNonQuery();
    }

    /// <summary>Copies <paramref name="rows"/> into <paramref name="table"/> (telemetry.logs or a table like it) by binary COPY.</summary>
    internal static ulong Copy(NpgsqlConnection connection, string table, IEnumerable<LogRow> rows)
    {
        using var importer = connection.BeginBinaryImport($"COPY {table} ({Columns}) FROM STDIN (FORMAT BINARY)");
        foreach (var row in rows)
        {
            importer.StartRow();
            importer.Write(row.ProjectId, NpgsqlDbType.Uuid);
            importer.Write(row.Time, NpgsqlDbType.TimestampTz);
            importer.Write(row.TimeUnixNano, NpgsqlDbType.Bigint);
            importer.Write(row.ObservedUnixNano, NpgsqlDbType.Bigint);
            importer.Write(row.RecordId, NpgsqlDbType.Uuid);
            importer.Write(row.SeverityNumber, NpgsqlDbType.Smallint);
            WriteText(importer, row.SeverityText);
            if (row.SeverityRange is { } range)
            {
                importer.Write(range, NpgsqlDbType.Smallint);
            }
            else
            {
                importer.WriteNull();
            }

            WriteText(importer, row.BodyText);
            WriteText(importer, row.EventName);
            if (row.TraceId is { } traceId)
            {
                importer.Write(traceId, NpgsqlDbType.Uuid);
            }
            else
            {
                importer.WriteNull();
            }

            if (row.SpanId is { } spanId)
            {
                importer.Write(spanId, NpgsqlDbType.Bigint);
            }
            else
            {
                importer.WriteNull();
            }

            WriteText(importer, row.ServiceName);
            importer.Write(row.AttributeHashes, NpgsqlDbType.Array | NpgsqlDbType.Integer);
            importer.Write(row.ResourceId, NpgsqlDbType.Uuid);
            importer.Write(row.ScopeId, NpgsqlDbType.Uuid);
            importer.Write(row.Otlp, NpgsqlDbType.Bytea);
            importer.Write(row.ReceivedAt, NpgsqlDbType.TimestampTz);
            importer.Write(row.BatchPosition, NpgsqlDbType.Integer);
        }

        return importer.Complete();
    }

    private static void WriteText(NpgsqlBinaryImporter importer, string? value)
    {
        if (value is null)
        {
            importer.WriteNull();
        }
        else
        {
            importer.Write(value, NpgsqlDbType.Text);
        }
    }
}
