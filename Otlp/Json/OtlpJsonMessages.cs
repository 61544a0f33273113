using System.Reflection;
using Google.Protobuf.Reflection;
using F = Trulayer.Otlp.Json.OtlpJsonField;

namespace Trulayer.Otlp.Json;

/// <summary>
/// The OTLP messages the JSON transcoder reads, as tables of their fields (key, protobuf field number,
/// kind), following the .proto files under Otlp/Protos. A signal is a root message here plus its
/// entry in <see cref="OtlpJson"/>; Otlp.Tests checks every table against the generated descriptors.
/// </summary>
internal static class OtlpJsonMessages
{
    // opentelemetry/proto/common/v1/common.proto
    public static readonly OtlpJsonMessage AnyValue = new(nameof(AnyValue), small: true);
    public static readonly OtlpJsonMessage ArrayValue = new(nameof(ArrayValue), small: true);
    public static readonly OtlpJsonMessage KeyValueList = new(nameof(KeyValueList), small: true);
    public static readonly OtlpJsonMessage KeyValue = new(nameof(KeyValue), small: true);
    public static readonly OtlpJsonMessage InstrumentationScope = new(nameof(InstrumentationScope));
    public static readonly OtlpJsonMessage EntityRef = new(nameof(EntityRef), small: true);

    // opentelemetry/proto/resource/v1/resource.proto
    public static readonly OtlpJsonMessage Resource = new(nameof(Resource));

    // opentelemetry/proto/trace/v1/trace.proto; ExportTraceServiceRequest has TracesData's shape.
    public static readonly OtlpJsonMessage TracesData = new(nameof(TracesData));
    public static readonly OtlpJsonMessage ResourceSpans = new(nameof(ResourceSpans));
    public static readonly OtlpJsonMessage ScopeSpans = new(nameof(ScopeSpans));
    public static readonly OtlpJsonMessage Span = new(nameof(Span));
    public static readonly OtlpJsonMessage SpanEvent = new("Span.Event", small: true);
    public static readonly OtlpJsonMessage SpanLink = new("Span.Link", small: true);
    public static readonly OtlpJsonMessage Status = new(nameof(Status), small: true);

    // opentelemetry/proto/logs/v1/logs.proto; ExportLogsServiceRequest has LogsData's shape.
    public static readonly OtlpJsonMessage LogsData = new(nameof(LogsData));
    public static readonly OtlpJsonMessage ResourceLogs = new(nameof(ResourceLogs));
    public static readonly OtlpJsonMessage ScopeLogs = new(nameof(ScopeLogs));
    public static readonly OtlpJsonMessage LogRecord = new(nameof(LogRecord));

    static OtlpJsonMessages()
    {
        AnyValue.Define(OneOf(
            String(F.StringValue, 1),
            Bool(F.BoolValue, 2),
            Int64(F.IntValue, 3),
            Double(F.DoubleValue, 4),
            Message(F.ArrayValue, 5, ArrayValue),
            Message(F.KvlistValue, 6, KeyValueList),
            Base64Bytes(F.BytesValue, 7)));
        ArrayValue.Define(Messages(F.Values, 1, AnyValue));
        ArrayValue.AcceptBareArrayAs(F.Values);
        KeyValueList.Define(Messages(F.Values, 1, KeyValue));
        KeyValueList.AcceptBareArrayAs(F.Values);
        KeyValue.Define(String(F.Key, 1), Message(F.Value, 2, AnyValue));
        InstrumentationScope.Define(
            String(F.Name, 1), String(F.Version, 2), Messages(F.Attributes, 3, KeyValue), UInt32(F.DroppedAttributesCount, 4));
        EntityRef.Define(String(F.SchemaUrl, 1), String(F.Type, 2), Strings(F.IdKeys, 3), Strings(F.DescriptionKeys, 4));

        Resource.Define(Messages(F.Attributes, 1, KeyValue), UInt32(F.DroppedAttributesCount, 2), Messages(F.EntityRefs, 3, EntityRef));

        TracesData.Define(Messages(F.ResourceSpans, 1, ResourceSpans));
        ResourceSpans.Define(Message(F.Resource, 1, Resource), Messages(F.ScopeSpans, 2, ScopeSpans), String(F.SchemaUrl, 3));
        ScopeSpans.Define(Message(F.Scope, 1, InstrumentationScope), Messages(F.Spans, 2, Span), String(F.SchemaUrl, 3));
        Span.Define(
            HexBytes(F.TraceId, 1),
            HexBytes(F.SpanId, 2),
            String(F.TraceState, 3),
            HexBytes(F.ParentSpanId, 4),
            String(F.Name, 5),
            Enum(F.Kind, 6, EnumNames<OpenTelemetry.Proto.Trace.V1.Span.Types.SpanKind>()),
            Fixed64(F.StartTimeUnixNano, 7),
            Fixed64(F.EndTimeUnixNano, 8),
            Messages(F.Attributes, 9, KeyValue),
            UInt32(F.DroppedAttributesCount, 10),
            Messages(F.Events, 11, SpanEvent),
            UInt32(F.DroppedEventsCount, 12),
            Messages(F.Links, 13, SpanLink),
            UInt32(F.DroppedLinksCount, 14),
            Message(F.Status, 15, Status),
            Fixed32(F.Flags, 16));
        SpanEvent.Define(Fixed64(F.TimeUnixNano, 1), String(F.Name, 2), Messages(F.Attributes, 3, KeyValue), UInt32(F.DroppedAttributesCount, 4));
        SpanLink.Define(
            HexBytes(F.TraceId, 1),
            HexBytes(F.SpanId, 2),
            String(F.TraceState, 3),
            Messages(F.Attributes, 4, KeyValue),
            UInt32(F.DroppedAttributesCount, 5),
            Fixed32(F.Flags, 6));
        Status.Define(String(F.Message, 2), Enum(F.Code, 3, EnumNames<OpenTelemetry.Proto.Trace.V1.Status.Types.StatusCode>()));

        LogsData.Define(Messages(F.ResourceLogs, 1, ResourceLogs));
        ResourceLogs.Define(Message(F.Resource, 1, Resource), Messages(F.ScopeLogs, 2, ScopeLogs), String(F.SchemaUrl, 3));
        ScopeLogs.Define(Message(F.Scope, 1, InstrumentationScope), Messages(F.LogRecords, 2, LogRecord), String(F.SchemaUrl, 3));
        LogRecord.Define(
            Fixed64(F.TimeUnixNano, 1),
            Enum(F.SeverityNumber, 2, EnumNames<OpenTelemetry.Proto.Logs.V1.SeverityNumber>()),
            String(F.SeverityText, 3),
            Message(F.Body, 5, AnyValue),
            Messages(F.Attributes, 6, KeyValue),
            UInt32(F.DroppedAttributesCount, 7),
            Fixed32(F.Flags, 8),
            HexBytes(F.TraceId, 9),
            HexBytes(F.SpanId, 10),
            Fixed64(F.ObservedTimeUnixNano, 11),
            String(F.EventName, 12));
    }

    private static OtlpJsonFieldShape String(F field, int number) => new(field, number, OtlpJsonKind.String);

    private static OtlpJsonFieldShape Strings(F field, int number) => new(field, number, OtlpJsonKind.String, Repeated: true);

    private static OtlpJsonFieldShape HexBytes(F field, int number) => new(field, number, OtlpJsonKind.HexBytes);

    private static OtlpJsonFieldShape Base64Bytes(F field, int number) => new(field, number, OtlpJsonKind.Base64Bytes);

    private static OtlpJsonFieldShape Bool(F field, int number) => new(field, number, OtlpJsonKind.Bool);

    private static OtlpJsonFieldShape Int64(F field, int number) => new(field, number, OtlpJsonKind.Int64);

    private static OtlpJsonFieldShape UInt32(F field, int number) => new(field, number, OtlpJsonKind.UInt32);

    private static OtlpJsonFieldShape Fixed32(F field, int number) => new(field, number, OtlpJsonKind.Fixed32);

    private static OtlpJsonFieldShape Fixed64(F field, int number) => new(field, number, OtlpJsonKind.Fixed64);

    private static OtlpJsonFieldShape Double(F field, int number) => new(field, number, OtlpJsonKind.Double);

    private static OtlpJsonFieldShape Enum(F field, int number, string?[] names) => new(field, number, OtlpJsonKind.Enum, EnumNames: names);

    private static OtlpJsonFieldShape Message(F field, int number, OtlpJsonMessage message) => new(field, number, OtlpJsonKind.Message, message);

    private static OtlpJsonFieldShape Messages(F field, int number, OtlpJsonMessage message) => new(field, number, OtlpJsonKind.Message, message, Repeated: true);

    private static OtlpJsonFieldShape[] OneOf(params OtlpJsonFieldShape[] members) => [.. members.Select(m => m with { OneOf = true })];

    /// <summary>An enum's names as the .proto spells them (<c>SPAN_KIND_SERVER</c>), by number; null where a number has no name.</summary>
    private static string?[] EnumNames<TEnum>()
        where TEnum : struct, System.Enum
    {
        var values = typeof(TEnum).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (Number: Convert.ToInt32(f.GetValue(null), System.Globalization.CultureInfo.InvariantCulture), Name: f.GetCustomAttribute<OriginalNameAttribute>()?.Name ?? f.Name))
            .ToArray();
        var names = new string?[values.Max(v => v.Number) + 1];
        foreach (var (number, name) in values)
        {
            names[number] = name;
        }

        return names;
    }
}
