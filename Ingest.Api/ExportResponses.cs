using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;

namespace Trulayer.Ingest;

/// <summary>An accepted export's OTLP response message, with partial_success when something was rejected or cut.</summary>
public static class ExportResponses
{
    public static ExportTraceServiceResponse Traces(IngestResult result) => result.IsPartial
        ? new() { PartialSuccess = new() { RejectedSpans = result.Rejected, ErrorMessage = result.PartialMessage } }
        : new();

    public static ExportLogsServiceResponse Logs(IngestResult result) => result.IsPartial
        ? new() { PartialSuccess = new() { RejectedLogRecords = result.Rejected, ErrorMessage = result.PartialMessage } }
        : new();
}
