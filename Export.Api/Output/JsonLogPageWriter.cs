using System.Globalization;
using System.IO.Pipelines;
using System.Text.Json;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Resource.V1;
using Trulayer.Export.Storage;
using Trulayer.Otlp.Json;

namespace Trulayer.Export.Output;

/// <summary>
/// OTLP/JSON LogsData: one ResourceLogs per resource, one ScopeLogs per group, each stored LogRecord
/// written by the OTLP/JSON rules <see cref="OtlpJsonWriter"/> follows (ids as hex, 64-bit integers as
/// decimal strings, enums as numbers, defaults left out), with its resource, scope and values through
/// <see cref="OtlpJsonWriter"/>'s own methods.
/// </summary>
internal sealed class JsonLogPageWriter : SpanPageWriter
{
    private static readonly JsonEncodedText ResourceLogsName = JsonEncodedText.Encode("resourceLogs");
    private static readonly JsonEncodedText ScopeLogsName = JsonEncodedText.Encode("scopeLogs");
    private static readonly JsonEncodedText LogRecordsName = JsonEncodedText.Encode("logRecords");
    private static readonly JsonEncodedText ResourceName = JsonEncodedText.Encode("resource");
    private static readonly JsonEncodedText ScopeName = JsonEncodedText.Encode("scope");
    private static readonly JsonEncodedText SchemaUrlName = JsonEncodedText.Encode("schemaUrl");

    private readonly Utf8JsonWriter _json;
    private IReadOnlyList<SpanGroup> _groups = [];
    private int _current = -1;
    private long _flushedBytes;

    public JsonLogPageWriter(PipeWriter output)
        : base(output)
    {
        _json = new Utf8JsonWriter((System.Buffers.IBufferWriter<byte>)output, new JsonWriterOptions { SkipValidation = true });
    }

    public override string ContentType => JsonSpanPageWriter.MediaType;

    public override bool ShouldFlush => _json.BytesCommitted + _json.BytesPending - _flushedBytes >= FlushThreshold;

    public override void Begin(IReadOnlyList<SpanGroup> groups)
    {
        _groups = groups;
        _json.WriteStartObject();
        _json.WriteStartArray(ResourceLogsName);
    }

    public override void BeginGroup(int index)
    {
        var group = _groups[index];
        var newResource = _current < 0 || !group.SameResource(_groups[_current]);
        if (_current >= 0)
        {
            EndScope(_current);
            if (newResource)
            {
                EndResource(_current);
            }
        }

        if (newResource)
        {
            _json.WriteStartObject();
            if (group.Resource.Length > 0)
            {
                _json.WritePropertyName(ResourceName);
                OtlpJsonWriter.WriteResource(_json, Resource.Parser.ParseFrom(group.Resource));
            }

            _json.WriteStartArray(ScopeLogsName);
        }

        _json.WriteStartObject();
        if (group.Scope.Length > 0)
        {
            _json.WritePropertyName(ScopeName);
            OtlpJsonWriter.WriteScope(_json, InstrumentationScope.Parser.ParseFrom(group.Scope));
        }

        _json.WriteStartArray(LogRecordsName);
        _current = index;
    }

    /// <summary>Writes one log record given as its stored protobuf bytes.</summary>
    public override void WriteSpan(ReadOnlySpan<byte> record) => WriteLogRecord(_json, LogRecord.Parser.ParseFrom(record));

    public override void End()
    {
        if (_current >= 0)
        {
            EndScope(_current);
            EndResource(_current);
        }

        _json.WriteEndArray();
        _json.WriteEndObject();
    }

    public override async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        _json.Flush();
        _flushedBytes = _json.BytesCommitted;
        await Output.FlushAsync(cancellationToken);
    }

    /// <summary>One LogRecord as OTLP/JSON.</summary>
    public static void WriteLogRecord(Utf8JsonWriter writer, LogRecord record)
    {
        writer.WriteStartObject();
        if (record.TimeUnixNano != 0)
        {
            writer.WriteString("timeUnixNano", record.TimeUnixNano.ToString(CultureInfo.InvariantCulture));
        }

        if (record.ObservedTimeUnixNano != 0)
        {
            writer.WriteString("observedTimeUnixNano", record.ObservedTimeUnixNano.ToString(CultureInfo.InvariantCulture));
        }

        if (record.SeverityNumber != SeverityNumber.Unspecified)
        {
            writer.WriteNumber("severityNumber", (int)record.SeverityNumber);
        }

        if (record.SeverityText.Length > 0)
        {
            writer.WriteString("severityText", record.SeverityText);
        }

        if (record.Body is { } body)
        {
            writer.WritePropertyName("body");
            OtlpJsonWriter.WriteAnyValue(writer, body);
        }

        if (record.Attributes.Count > 0)
        {
            writer.WriteStartArray("attributes");
            foreach (var attribute in record.Attributes)
            {
                OtlpJsonWriter.WriteKeyValue(writer, attribute);
            }

            writer.WriteEndArray();
        }

        if (record.DroppedAttributesCount != 0)
        {
            writer.WriteNumber("droppedAttributesCount", record.DroppedAttributesCount);
        }

        if (record.Flags != 0)
        {
            writer.WriteNumber("flags", record.Flags);
        }

        if (!record.TraceId.IsEmpty)
        {
            writer.WriteString("traceId", Convert.ToHexStringLower(record.TraceId.Span));
        }

        if (!record.SpanId.IsEmpty)
        {
            writer.WriteString("spanId", Convert.ToHexStringLower(record.SpanId.Span));
        }

        if (record.EventName.Length > 0)
        {
            writer.WriteString("eventName", record.EventName);
        }

        writer.WriteEndObject();
    }

    private void EndScope(int index)
    {
        _json.WriteEndArray();
        if (_groups[index].ScopeSchemaUrl.Length > 0)
        {
            _json.WriteString(SchemaUrlName, _groups[index].ScopeSchemaUrl);
        }

        _json.WriteEndObject();
    }

    private void EndResource(int index)
    {
        _json.WriteEndArray();
        if (_groups[index].ResourceSchemaUrl.Length > 0)
        {
            _json.WriteString(SchemaUrlName, _groups[index].ResourceSchemaUrl);
        }

        _json.WriteEndObject();
    }
}
