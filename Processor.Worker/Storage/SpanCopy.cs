using Npgsql;
using NpgsqlTypes;
using Trulayer.Otlp.GenAi;

namespace Trulayer.Processor.Storage;

/// <summary>Writes <see cref="SpanRow"/>s with PostgreSQL's binary COPY, into telemetry.spans or a table like it.</summary>
internal static class SpanCopy
{
    public const string Columns =
        "project_id, trace_id, span_id, parent_span_id, start_time, start_unix_nano, end_unix_nano, name, kind, " +
        "status_code, status_message, service_name, span_type, llm_system, request_model, response_model, " +
        "input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_micros, " +
        "input_text, output_text, text_truncated, attr_hashes, resource_id, scope_id, otlp, span_size, input_at, output_at, received_at, " +
        "session_id, user_id, cost_source, input_form, output_form, time_to_first_token_nanos";

    /// <summary>Copies <paramref name="rows"/> into <paramref name="table"/>; returns the number of rows.</summary>
    public static ulong Copy(NpgsqlConnection connection, string table, IEnumerable<SpanRow> rows)
    {
        using var importer = connection.BeginBinaryImport($"COPY {table} ({Columns}) FROM STDIN (FORMAT BINARY)");
        foreach (var row in rows)
        {
            Write(importer, row);
        }

        return importer.Complete();
    }

    private static void Write(NpgsqlBinaryImporter importer, SpanRow row)
    {
        var genAi = row.GenAi;
        importer.StartRow();
        importer.Write(row.ProjectId, NpgsqlDbType.Uuid);
        importer.Write(row.TraceId, NpgsqlDbType.Uuid);
        importer.Write(row.SpanId, NpgsqlDbType.Bigint);
        WriteNullable(importer, row.ParentSpanId);
        importer.Write(row.StartTime, NpgsqlDbType.TimestampTz);
        importer.Write(row.StartUnixNano, NpgsqlDbType.Bigint);
        importer.Write(row.EndUnixNano, NpgsqlDbType.Bigint);
        importer.Write(row.Name, NpgsqlDbType.Text);
        importer.Write(row.Kind, NpgsqlDbType.Smallint);
        importer.Write(row.StatusCode, NpgsqlDbType.Smallint);
        WriteNullable(importer, row.StatusMessage);
        WriteNullable(importer, row.ServiceName);
        importer.Write(row.SpanType.ToColumn(), NpgsqlDbType.Text);
        WriteNullable(importer, genAi.LlmSystem);
        WriteNullable(importer, genAi.RequestModel);
        WriteNullable(importer, genAi.ResponseModel);
        WriteNullable(importer, genAi.InputTokens);
        WriteNullable(importer, genAi.OutputTokens);
        WriteNullable(importer, genAi.CacheReadTokens);
        WriteNullable(importer, genAi.CacheCreationTokens);
        WriteNullable(importer, genAi.ReasoningTokens);
        WriteNullable(importer, row.CostMicros);
        WriteNullable(importer, genAi.InputText);
        WriteNullable(importer, genAi.OutputText);
        importer.Write(genAi.TextTruncated, NpgsqlDbType.Boolean);
        importer.Write(row.AttributeHashes, NpgsqlDbType.Array | NpgsqlDbType.Integer);
        importer.Write(row.ResourceId, NpgsqlDbType.Uuid);
        importer.Write(row.ScopeId, NpgsqlDbType.Uuid);
        importer.Write(row.Otlp, NpgsqlDbType.Bytea);
        WriteNullable(importer, row.SpanSize);
        WriteNullable(importer, row.InputAt);
        WriteNullable(importer, row.OutputAt);
        importer.Write(row.ReceivedAt, NpgsqlDbType.TimestampTz);
        WriteNullable(importer, genAi.SessionId);
        WriteNullable(importer, genAi.UserId);
        importer.Write(row.CostSource.ToColumn(), NpgsqlDbType.Text);
        WriteNullable(importer, row.InputForm);
        WriteNullable(importer, row.OutputForm);
        WriteNullable(importer, genAi.TimeToFirstTokenNanos);
    }

    private static void WriteNullable(NpgsqlBinaryImporter importer, string? value)
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

    private static void WriteNullable(NpgsqlBinaryImporter importer, int? value)
    {
        if (value is { } v)
        {
            importer.Write(v, NpgsqlDbType.Integer);
        }
        else
        {
            importer.WriteNull();
        }
    }

    private static void WriteNullable(NpgsqlBinaryImporter importer, long? value)
    {
        if (value is { } v)
        {
            importer.Write(v, NpgsqlDbType.Bigint);
        }
        else
        {
            importer.WriteNull();
        }
    }
}
