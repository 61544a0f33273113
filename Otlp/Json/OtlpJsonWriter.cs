using System.Buffers.Text;
using System.Text.Json;
using Google.Protobuf.Collections;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace Trulayer.Otlp.Json;

/// <summary>
/// Writes OTLP/JSON onto a <see cref="Utf8JsonWriter"/>, following the OTLP spec: lowerCamelCase
/// keys, trace and span ids as lowercase hex, 64-bit integers as decimal strings, enums as integers,
/// bytes as base64, fields holding their default value left out.
/// </summary>
/// <remarks>
/// Streaming: a <c>TracesData</c> is written piece by piece, so a caller can emit one page of spans,
/// flush the underlying writer, and go on without holding the whole document:
/// <code>
/// var otlp = new OtlpJsonWriter(utf8JsonWriter);
/// otlp.WriteStartTracesData();
/// otlp.WriteStartResourceSpans(resource, schemaUrl);
/// otlp.WriteStartScopeSpans(scope, scopeSchemaUrl);
/// foreach (var span in page) otlp.WriteSpan(span);      // or WriteSpan(encodedSpanBytes)
/// await utf8JsonWriter.FlushAsync();                       // between pages
/// otlp.WriteEndScopeSpans();
/// otlp.WriteEndResourceSpans();
/// otlp.WriteEndTracesData();
/// </code>
/// The writer checks that starts and ends pair up. The static methods write whole messages.
/// </remarks>
public sealed class OtlpJsonWriter(Utf8JsonWriter writer)
{
    private static readonly JsonEncodedText ResourceSpansName = JsonEncodedText.Encode("resourceSpans");
    private static readonly JsonEncodedText ResourceName = JsonEncodedText.Encode("resource");
    private static readonly JsonEncodedText ScopeSpansName = JsonEncodedText.Encode("scopeSpans");
    private static readonly JsonEncodedText SchemaUrlName = JsonEncodedText.Encode("schemaUrl");
    private static readonly JsonEncodedText ScopeName = JsonEncodedText.Encode("scope");
    private static readonly JsonEncodedText SpansName = JsonEncodedText.Encode("spans");
    private static readonly JsonEncodedText AttributesName = JsonEncodedText.Encode("attributes");
    private static readonly JsonEncodedText DroppedAttributesCountName = JsonEncodedText.Encode("droppedAttributesCount");
    private static readonly JsonEncodedText EntityRefsName = JsonEncodedText.Encode("entityRefs");
    private static readonly JsonEncodedText TypeName = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText IdKeysName = JsonEncodedText.Encode("idKeys");
    private static readonly JsonEncodedText DescriptionKeysName = JsonEncodedText.Encode("descriptionKeys");
    private static readonly JsonEncodedText NameName = JsonEncodedText.Encode("name");
    private static readonly JsonEncodedText VersionName = JsonEncodedText.Encode("version");
    private static readonly JsonEncodedText TraceIdName = JsonEncodedText.Encode("traceId");
    private static readonly JsonEncodedText SpanIdName = JsonEncodedText.Encode("spanId");
    private static readonly JsonEncodedText TraceStateName = JsonEncodedText.Encode("traceState");
    private static readonly JsonEncodedText ParentSpanIdName = JsonEncodedText.Encode("parentSpanId");
    private static readonly JsonEncodedText FlagsName = JsonEncodedText.Encode("flags");
    private static readonly JsonEncodedText KindName = JsonEncodedText.Encode("kind");
    private static readonly JsonEncodedText StartTimeName = JsonEncodedText.Encode("startTimeUnixNano");
    private static readonly JsonEncodedText EndTimeName = JsonEncodedText.Encode("endTimeUnixNano");
    private static readonly JsonEncodedText EventsName = JsonEncodedText.Encode("events");
    private static readonly JsonEncodedText DroppedEventsCountName = JsonEncodedText.Encode("droppedEventsCount");
    private static readonly JsonEncodedText LinksName = JsonEncodedText.Encode("links");
    private static readonly JsonEncodedText DroppedLinksCountName = JsonEncodedText.Encode("droppedLinksCount");
    private static readonly JsonEncodedText StatusName = JsonEncodedText.Encode("status");
    private static readonly JsonEncodedText MessageName = JsonEncodedText.Encode("message");
    private static readonly JsonEncodedText CodeName = JsonEncodedText.Encode("code");
    private static readonly JsonEncodedText TimeName = JsonEncodedText.Encode("timeUnixNano");
    private static readonly JsonEncodedText KeyName = JsonEncodedText.Encode("key");
    private static readonly JsonEncodedText ValueName = JsonEncodedText.Encode("value");
    private static readonly JsonEncodedText ValuesName = JsonEncodedText.Encode("values");
    private static readonly JsonEncodedText StringValueName = JsonEncodedText.Encode("stringValue");
    private static readonly JsonEncodedText BoolValueName = JsonEncodedText.Encode("boolValue");
    private static readonly JsonEncodedText IntValueName = JsonEncodedText.Encode("intValue");
    private static readonly JsonEncodedText DoubleValueName = JsonEncodedText.Encode("doubleValue");
    private static readonly JsonEncodedText ArrayValueName = JsonEncodedText.Encode("arrayValue");
    private static readonly JsonEncodedText KvlistValueName = JsonEncodedText.Encode("kvlistValue");
    private static readonly JsonEncodedText BytesValueName = JsonEncodedText.Encode("bytesValue");
    private static readonly JsonEncodedText PartialSuccessName = JsonEncodedText.Encode("partialSuccess");
    private static readonly JsonEncodedText RejectedSpansName = JsonEncodedText.Encode("rejectedSpans");
    private static readonly JsonEncodedText RejectedLogRecordsName = JsonEncodedText.Encode("rejectedLogRecords");
    private static readonly JsonEncodedText ErrorMessageName = JsonEncodedText.Encode("errorMessage");
    private static readonly JsonEncodedText ResourceLogsName = JsonEncodedText.Encode("resourceLogs");
    private static readonly JsonEncodedText ScopeLogsName = JsonEncodedText.Encode("scopeLogs");
    private static readonly JsonEncodedText LogRecordsName = JsonEncodedText.Encode("logRecords");
    private static readonly JsonEncodedText ObservedTimeName = JsonEncodedText.Encode("observedTimeUnixNano");
    private static readonly JsonEncodedText SeverityNumberName = JsonEncodedText.Encode("severityNumber");
    private static readonly JsonEncodedText SeverityTextName = JsonEncodedText.Encode("severityText");
    private static readonly JsonEncodedText BodyName = JsonEncodedText.Encode("body");
    private static readonly JsonEncodedText EventNameName = JsonEncodedText.Encode("eventName");

    private enum Level
    {
        None,
        TracesData,
        ResourceSpans,
        ScopeSpans,
        Done,
    }

    private Level _level;

    /// <summary>The writer underneath, to flush between pages.</summary>
    public Utf8JsonWriter Writer => writer;

    /// <summary>Opens <c>{"resourceSpans": [</c>.</summary>
    public void WriteStartTracesData()
    {
        Expect(Level.None, nameof(WriteStartTracesData));
        writer.WriteStartObject();
        writer.WriteStartArray(ResourceSpansName);
        _level = Level.TracesData;
    }

    public void WriteEndTracesData()
    {
        Expect(Level.TracesData, nameof(WriteEndTracesData));
        writer.WriteEndArray();
        writer.WriteEndObject();
        _level = Level.Done;
    }

    /// <summary>Opens one ResourceSpans (its resource and schema URL written first) and its <c>scopeSpans</c> array.</summary>
    public void WriteStartResourceSpans(Resource? resource, string? schemaUrl = null)
    {
        Expect(Level.TracesData, nameof(WriteStartResourceSpans));
        writer.WriteStartObject();
        if (resource is not null)
        {
            writer.WritePropertyName(ResourceName);
            WriteResource(writer, resource);
        }

        WriteStringIfSet(writer, SchemaUrlName, schemaUrl);
        writer.WriteStartArray(ScopeSpansName);
        _level = Level.ResourceSpans;
    }

    public void WriteEndResourceSpans()
    {
        Expect(Level.ResourceSpans, nameof(WriteEndResourceSpans));
        writer.WriteEndArray();
        writer.WriteEndObject();
        _level = Level.TracesData;
    }

    /// <summary>Opens one ScopeSpans (its scope and schema URL written first) and its <c>spans</c> array.</summary>
    public void WriteStartScopeSpans(InstrumentationScope? scope, string? schemaUrl = null)
    {
        Expect(Level.ResourceSpans, nameof(WriteStartScopeSpans));
        writer.WriteStartObject();
        if (scope is not null)
        {
            writer.WritePropertyName(ScopeName);
            WriteScope(writer, scope);
        }

        WriteStringIfSet(writer, SchemaUrlName, schemaUrl);
        writer.WriteStartArray(SpansName);
        _level = Level.ScopeSpans;
    }

    public void WriteEndScopeSpans()
    {
        Expect(Level.ScopeSpans, nameof(WriteEndScopeSpans));
        writer.WriteEndArray();
        writer.WriteEndObject();
        _level = Level.ResourceSpans;
    }

    /// <summary>Writes one span into the open ScopeSpans.</summary>
    public void WriteSpan(Span span)
    {
        Expect(Level.ScopeSpans, nameof(WriteSpan));
        WriteSpan(writer, span);
    }

    /// <summary>Writes one span given in the protobuf encoding (a stored copy of the span as received).</summary>
    public void WriteSpan(ReadOnlySpan<byte> encodedSpan)
    {
        Expect(Level.ScopeSpans, nameof(WriteSpan));
        WriteSpan(writer, Span.Parser.ParseFrom(encodedSpan));
    }

    private void Expect(Level level, string call)
    {
        if (_level != level)
        {
            throw new InvalidOperationException($"{call} is out of order: the writer is at {_level}, it needs {level}");
        }
    }

    // ---- whole messages ----

    public static void WriteTracesData(Utf8JsonWriter writer, TracesData data) => WriteResourceSpansList(writer, data.ResourceSpans);

    public static void WriteExportTraceServiceRequest(Utf8JsonWriter writer, ExportTraceServiceRequest request) => WriteResourceSpansList(writer, request.ResourceSpans);

    public static void WriteLogsData(Utf8JsonWriter writer, LogsData data) => WriteResourceLogsList(writer, data.ResourceLogs);

    public static void WriteExportLogsServiceRequest(Utf8JsonWriter writer, ExportLogsServiceRequest request) => WriteResourceLogsList(writer, request.ResourceLogs);

    /// <summary><c>{"resourceLogs": [{"resource", "schemaUrl", "scopeLogs": [{"scope", "schemaUrl", "logRecords": [...]}]}]}</c>.</summary>
    private static void WriteResourceLogsList(Utf8JsonWriter writer, RepeatedField<ResourceLogs> list)
    {
        writer.WriteStartObject();
        writer.WriteStartArray(ResourceLogsName);
        foreach (var resourceLogs in list)
        {
            writer.WriteStartObject();
            if (resourceLogs.Resource is { } resource)
            {
                writer.WritePropertyName(ResourceName);
                WriteResource(writer, resource);
            }

            WriteStringIfSet(writer, SchemaUrlName, resourceLogs.SchemaUrl);
            writer.WriteStartArray(ScopeLogsName);
            foreach (var scopeLogs in resourceLogs.ScopeLogs)
            {
                writer.WriteStartObject();
                if (scopeLogs.Scope is { } scope)
                {
                    writer.WritePropertyName(ScopeName);
                    WriteScope(writer, scope);
                }

                WriteStringIfSet(writer, SchemaUrlName, scopeLogs.SchemaUrl);
                writer.WriteStartArray(LogRecordsName);
                foreach (var record in scopeLogs.LogRecords)
                {
                    WriteLogRecord(writer, record);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>One log record; severityNumber as its number, ids in hex, fields at their default left out.</summary>
    public static void WriteLogRecord(Utf8JsonWriter writer, LogRecord record)
    {
        writer.WriteStartObject();
        if (record.TimeUnixNano != 0)
        {
            WriteUInt64(writer, TimeName, record.TimeUnixNano);
        }

        if (record.ObservedTimeUnixNano != 0)
        {
            WriteUInt64(writer, ObservedTimeName, record.ObservedTimeUnixNano);
        }

        if (record.SeverityNumber != SeverityNumber.Unspecified)
        {
            writer.WriteNumber(SeverityNumberName, (int)record.SeverityNumber);
        }

        WriteStringIfSet(writer, SeverityTextName, record.SeverityText);
        if (record.Body is { } body)
        {
            writer.WritePropertyName(BodyName);
            WriteAnyValue(writer, body);
        }

        WriteAttributes(writer, record.Attributes);
        WriteUInt32IfSet(writer, DroppedAttributesCountName, record.DroppedAttributesCount);
        if (record.Flags != 0)
        {
            writer.WriteNumber(FlagsName, record.Flags);
        }

        if (!record.TraceId.IsEmpty)
        {
            WriteHex(writer, TraceIdName, record.TraceId.Span);
        }

        if (!record.SpanId.IsEmpty)
        {
            WriteHex(writer, SpanIdName, record.SpanId.Span);
        }

        WriteStringIfSet(writer, EventNameName, record.EventName);
        writer.WriteEndObject();
    }

    private static void WriteResourceSpansList(Utf8JsonWriter writer, RepeatedField<ResourceSpans> list)
    {
        var otlp = new OtlpJsonWriter(writer);
        otlp.WriteStartTracesData();
        foreach (var resourceSpans in list)
        {
            otlp.WriteStartResourceSpans(resourceSpans.Resource, resourceSpans.SchemaUrl);
            foreach (var scopeSpans in resourceSpans.ScopeSpans)
            {
                otlp.WriteStartScopeSpans(scopeSpans.Scope, scopeSpans.SchemaUrl);
                foreach (var span in scopeSpans.Spans)
                {
                    otlp.WriteSpan(span);
                }

                otlp.WriteEndScopeSpans();
            }

            otlp.WriteEndResourceSpans();
        }

        otlp.WriteEndTracesData();
    }

    /// <summary><c>{}</c>, or <c>{"partialSuccess": {"rejectedSpans": "N", "errorMessage": "..."}}</c>.</summary>
    public static void WriteExportTraceServiceResponse(Utf8JsonWriter writer, ExportTraceServiceResponse response)
        => WriteExportResponse(writer, response.PartialSuccess is not null, RejectedSpansName, response.PartialSuccess?.RejectedSpans ?? 0, response.PartialSuccess?.ErrorMessage ?? "");

    /// <summary><c>{}</c>, or <c>{"partialSuccess": {"rejectedLogRecords": "N", "errorMessage": "..."}}</c>.</summary>
    public static void WriteExportLogsServiceResponse(Utf8JsonWriter writer, ExportLogsServiceResponse response)
        => WriteExportResponse(writer, response.PartialSuccess is not null, RejectedLogRecordsName, response.PartialSuccess?.RejectedLogRecords ?? 0, response.PartialSuccess?.ErrorMessage ?? "");

    private static void WriteExportResponse(Utf8JsonWriter writer, bool partialSuccess, JsonEncodedText rejectedName, long rejected, string errorMessage)
    {
        writer.WriteStartObject();
        if (partialSuccess)
        {
            writer.WriteStartObject(PartialSuccessName);
            if (rejected != 0)
            {
                WriteInt64(writer, rejectedName, rejected);
            }

            WriteStringIfSet(writer, ErrorMessageName, errorMessage);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }

    public static void WriteResource(Utf8JsonWriter writer, Resource resource)
    {
        writer.WriteStartObject();
        WriteAttributes(writer, resource.Attributes);
        WriteUInt32IfSet(writer, DroppedAttributesCountName, resource.DroppedAttributesCount);
        if (resource.EntityRefs.Count > 0)
        {
            writer.WriteStartArray(EntityRefsName);
            foreach (var entity in resource.EntityRefs)
            {
                writer.WriteStartObject();
                WriteStringIfSet(writer, SchemaUrlName, entity.SchemaUrl);
                WriteStringIfSet(writer, TypeName, entity.Type);
                WriteStrings(writer, IdKeysName, entity.IdKeys);
                WriteStrings(writer, DescriptionKeysName, entity.DescriptionKeys);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
    }

    public static void WriteScope(Utf8JsonWriter writer, InstrumentationScope scope)
    {
        writer.WriteStartObject();
        WriteStringIfSet(writer, NameName, scope.Name);
        WriteStringIfSet(writer, VersionName, scope.Version);
        WriteAttributes(writer, scope.Attributes);
        WriteUInt32IfSet(writer, DroppedAttributesCountName, scope.DroppedAttributesCount);
        writer.WriteEndObject();
    }

    public static void WriteSpan(Utf8JsonWriter writer, Span span)
    {
        writer.WriteStartObject();
        WriteHex(writer, TraceIdName, span.TraceId.Span);
        WriteHex(writer, SpanIdName, span.SpanId.Span);
        WriteStringIfSet(writer, TraceStateName, span.TraceState);
        if (!span.ParentSpanId.IsEmpty)
        {
            WriteHex(writer, ParentSpanIdName, span.ParentSpanId.Span);
        }

        writer.WriteString(NameName, span.Name);
        if (span.Kind != Span.Types.SpanKind.Unspecified)
        {
            writer.WriteNumber(KindName, (int)span.Kind);
        }

        WriteUInt64(writer, StartTimeName, span.StartTimeUnixNano);
        WriteUInt64(writer, EndTimeName, span.EndTimeUnixNano);
        WriteAttributes(writer, span.Attributes);
        WriteUInt32IfSet(writer, DroppedAttributesCountName, span.DroppedAttributesCount);
        if (span.Events.Count > 0)
        {
            writer.WriteStartArray(EventsName);
            foreach (var e in span.Events)
            {
                writer.WriteStartObject();
                if (e.TimeUnixNano != 0)
                {
                    WriteUInt64(writer, TimeName, e.TimeUnixNano);
                }

                WriteStringIfSet(writer, NameName, e.Name);
                WriteAttributes(writer, e.Attributes);
                WriteUInt32IfSet(writer, DroppedAttributesCountName, e.DroppedAttributesCount);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        WriteUInt32IfSet(writer, DroppedEventsCountName, span.DroppedEventsCount);
        if (span.Links.Count > 0)
        {
            writer.WriteStartArray(LinksName);
            foreach (var link in span.Links)
            {
                writer.WriteStartObject();
                WriteHex(writer, TraceIdName, link.TraceId.Span);
                WriteHex(writer, SpanIdName, link.SpanId.Span);
                WriteStringIfSet(writer, TraceStateName, link.TraceState);
                WriteAttributes(writer, link.Attributes);
                WriteUInt32IfSet(writer, DroppedAttributesCountName, link.DroppedAttributesCount);
                if (link.Flags != 0)
                {
                    writer.WriteNumber(FlagsName, link.Flags);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        WriteUInt32IfSet(writer, DroppedLinksCountName, span.DroppedLinksCount);
        if (span.Status is { } status)
        {
            writer.WriteStartObject(StatusName);
            WriteStringIfSet(writer, MessageName, status.Message);
            if (status.Code != Status.Types.StatusCode.Unset)
            {
                writer.WriteNumber(CodeName, (int)status.Code);
            }

            writer.WriteEndObject();
        }

        if (span.Flags != 0)
        {
            writer.WriteNumber(FlagsName, span.Flags);
        }

        writer.WriteEndObject();
    }

    public static void WriteKeyValue(Utf8JsonWriter writer, KeyValue keyValue)
    {
        writer.WriteStartObject();
        writer.WriteString(KeyName, keyValue.Key);
        if (keyValue.Value is { } value)
        {
            writer.WritePropertyName(ValueName);
            WriteAnyValue(writer, value);
        }

        writer.WriteEndObject();
    }

    public static void WriteAnyValue(Utf8JsonWriter writer, AnyValue value)
    {
        writer.WriteStartObject();
        switch (value.ValueCase)
        {
            case AnyValue.ValueOneofCase.StringValue:
                writer.WriteString(StringValueName, value.StringValue);
                break;
            case AnyValue.ValueOneofCase.BoolValue:
                writer.WriteBoolean(BoolValueName, value.BoolValue);
                break;
            case AnyValue.ValueOneofCase.IntValue:
                WriteInt64(writer, IntValueName, value.IntValue);
                break;
            case AnyValue.ValueOneofCase.DoubleValue:
                WriteDouble(writer, DoubleValueName, value.DoubleValue);
                break;
            case AnyValue.ValueOneofCase.ArrayValue:
                writer.WriteStartObject(ArrayValueName);
                writer.WriteStartArray(ValuesName);
                foreach (var item in value.ArrayValue.Values)
                {
                    WriteAnyValue(writer, item);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
                break;
            case AnyValue.ValueOneofCase.KvlistValue:
                writer.WriteStartObject(KvlistValueName);
                writer.WriteStartArray(ValuesName);
                foreach (var item in value.KvlistValue.Values)
                {
                    WriteKeyValue(writer, item);
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
                break;
            case AnyValue.ValueOneofCase.BytesValue:
                writer.WriteBase64String(BytesValueName, value.BytesValue.Span);
                break;
        }

        writer.WriteEndObject();
    }

    private static void WriteAttributes(Utf8JsonWriter writer, RepeatedField<KeyValue> attributes)
    {
        if (attributes.Count == 0)
        {
            return;
        }

        writer.WriteStartArray(AttributesName);
        foreach (var attribute in attributes)
        {
            WriteKeyValue(writer, attribute);
        }

        writer.WriteEndArray();
    }

    private static void WriteStrings(Utf8JsonWriter writer, JsonEncodedText name, RepeatedField<string> values)
    {
        if (values.Count == 0)
        {
            return;
        }

        writer.WriteStartArray(name);
        foreach (var value in values)
        {
            writer.WriteStringValue(value);
        }

        writer.WriteEndArray();
    }

    private static void WriteStringIfSet(Utf8JsonWriter writer, JsonEncodedText name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            writer.WriteString(name, value);
        }
    }

    private static void WriteUInt32IfSet(Utf8JsonWriter writer, JsonEncodedText name, uint value)
    {
        if (value != 0)
        {
            writer.WriteNumber(name, value);
        }
    }

    private static void WriteUInt64(Utf8JsonWriter writer, JsonEncodedText name, ulong value)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, digits, out var length);
        writer.WriteString(name, digits[..length]);
    }

    private static void WriteInt64(Utf8JsonWriter writer, JsonEncodedText name, long value)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, digits, out var length);
        writer.WriteString(name, digits[..length]);
    }

    private static void WriteDouble(Utf8JsonWriter writer, JsonEncodedText name, double value)
    {
        if (double.IsFinite(value))
        {
            writer.WriteNumber(name, value);
        }
        else
        {
            writer.WriteString(name, double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
        }
    }

    private static void WriteHex(Utf8JsonWriter writer, JsonEncodedText name, ReadOnlySpan<byte> bytes)
    {
        const string Digits = "0123456789abcdef";
        Span<byte> hex = bytes.Length <= 64 ? stackalloc byte[bytes.Length * 2] : new byte[bytes.Length * 2];
        for (var i = 0; i < bytes.Length; i++)
        {
            hex[2 * i] = (byte)Digits[bytes[i] >> 4];
            hex[(2 * i) + 1] = (byte)Digits[bytes[i] & 0xF];
        }

        writer.WriteString(name, hex);
    }
}
