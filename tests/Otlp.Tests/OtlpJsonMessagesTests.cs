using Google.Protobuf.Reflection;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Json;

namespace Trulayer.Otlp.Tests;

/// <summary>The transcoder's message tables say what the .proto files say: every field, its number, kind and repetition.</summary>
public sealed class OtlpJsonMessagesTests
{
    // OTLP/JSON writes these bytes fields as hex; every other bytes field is base64.
    private static readonly string[] HexIdFields = ["trace_id", "span_id", "parent_span_id"];

    public static TheoryData<string> Roots => ["TracesData", "LogsData"];

    [Theory]
    [MemberData(nameof(Roots))]
    public void Tables_MatchTheProtoDescriptors(string root)
    {
        (OtlpJsonMessage table, MessageDescriptor descriptor) = root switch
        {
            "TracesData" => (OtlpJsonMessages.TracesData, TracesData.Descriptor),
            "LogsData" => (OtlpJsonMessages.LogsData, LogsData.Descriptor),
            _ => throw new ArgumentOutOfRangeException(nameof(root)),
        };

        var problems = new List<string>();
        Compare(table, descriptor, problems, []);

        Assert.Empty(problems);
    }

    [Fact]
    public void TracesData_HasTheShapeOfExportTraceServiceRequest()
    {
        var request = ExportTraceServiceRequest.Descriptor.Fields.InFieldNumberOrder().Select(f => (f.FieldNumber, f.JsonName, f.MessageType.FullName));
        var data = TracesData.Descriptor.Fields.InFieldNumberOrder().Select(f => (f.FieldNumber, f.JsonName, f.MessageType.FullName));

        Assert.Equal(data, request);
    }

    [Fact]
    public void LogsData_HasTheShapeOfExportLogsServiceRequest()
    {
        var request = ExportLogsServiceRequest.Descriptor.Fields.InFieldNumberOrder().Select(f => (f.FieldNumber, f.JsonName, f.MessageType.FullName));
        var data = LogsData.Descriptor.Fields.InFieldNumberOrder().Select(f => (f.FieldNumber, f.JsonName, f.MessageType.FullName));

        Assert.Equal(data, request);
    }

    private static void Compare(OtlpJsonMessage table, MessageDescriptor descriptor, List<string> problems, HashSet<OtlpJsonMessage> seen)
    {
        if (!seen.Add(table))
        {
            return;
        }

        var tableFields = table.Fields.ToDictionary(f => OtlpJsonFields.Name(f.Field));
        foreach (var field in descriptor.Fields.InFieldNumberOrder())
        {
            var where = $"{descriptor.FullName}.{field.Name}";
            if (!tableFields.Remove(field.JsonName, out var shape))
            {
                problems.Add($"{where}: not in {table.Name}'s table");
                continue;
            }

            if (shape.Number != field.FieldNumber)
            {
                problems.Add($"{where}: number {shape.Number}, the .proto says {field.FieldNumber}");
            }

            if (shape.Repeated != field.IsRepeated || shape.OneOf != (field.RealContainingOneof is not null))
            {
                problems.Add($"{where}: repeated {shape.Repeated} / oneof {shape.OneOf}, the .proto says {field.IsRepeated} / {field.RealContainingOneof is not null}");
            }

            var expected = Kind(field);
            if (shape.Kind != expected)
            {
                problems.Add($"{where}: {shape.Kind}, expected {expected}");
            }

            if (field.FieldType == FieldType.Enum && shape.EnumNames is { } enumNames)
            {
                var names = field.EnumType.Values.OrderBy(v => v.Number).Select(v => $"{v.Number}={v.Name}");
                var tableNames = enumNames.Select((name, number) => $"{number}={name}").Where((_, number) => enumNames[number] is not null);
                if (!names.SequenceEqual(tableNames))
                {
                    problems.Add($"{where}: enum names {string.Join(",", tableNames)}");
                }
            }

            if (field.FieldType == FieldType.Message && shape.Message is { } nested)
            {
                Compare(nested, field.MessageType, problems, seen);
            }
        }

        problems.AddRange(tableFields.Keys.Select(key => $"{table.Name}.{key}: not in {descriptor.FullName}"));
    }

    private static OtlpJsonKind Kind(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.String => OtlpJsonKind.String,
        FieldType.Bytes => HexIdFields.Contains(field.Name) ? OtlpJsonKind.HexBytes : OtlpJsonKind.Base64Bytes,
        FieldType.Bool => OtlpJsonKind.Bool,
        FieldType.Int64 => OtlpJsonKind.Int64,
        FieldType.UInt32 => OtlpJsonKind.UInt32,
        FieldType.Fixed32 => OtlpJsonKind.Fixed32,
        FieldType.Fixed64 => OtlpJsonKind.Fixed64,
        FieldType.Double => OtlpJsonKind.Double,
        FieldType.Enum => OtlpJsonKind.Enum,
        FieldType.Message => OtlpJsonKind.Message,
        var other => throw new NotSupportedException($"{field.FullName}: {other} has no OtlpJsonKind yet"),
    };
}
