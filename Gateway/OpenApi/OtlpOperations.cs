using System.Text.Json.Nodes;

namespace Trulayer.Gateway.OpenApi;

/// <summary>
/// What the OTLP routes' handlers cannot show in their services' documents, since they read and write
/// protobuf or OTLP/JSON bodies themselves: the request and response content types and the OTLP
/// schemas, under the names of the seed's OpenAPI document (OTLPTracesData, OTLPExportTraceServiceRequest,
/// ...), and the export routes' query parameters and paging header.
/// </summary>
internal static class OtlpOperations
{
    private const string Protobuf = "application/x-protobuf";
    private const string Json = "application/json";

    /// <summary>The signal an OTLP ingest path takes, from its last segment (traces, logs, metrics).</summary>
    public static string? IngestSignal(string path) => path[(path.LastIndexOf('/') + 1)..] switch
    {
        "traces" => "Trace",
        "logs" => "Logs",
        "metrics" => "Metrics",
        _ => null,
    };

    /// <summary>Describes an OTLP/HTTP ingest operation: either encoding in, the same encoding out.</summary>
    public static void DescribeIngest(JsonObject operation, string signal)
    {
        operation["requestBody"] = new JsonObject
        {
            ["required"] = true,
            ["description"] = $"An OTLP Export{signal}ServiceRequest as protobuf or OTLP/JSON, optionally gzip or deflate encoded (Content-Encoding); at most 20 MiB after decompression.",
            ["content"] = BothEncodings($"OTLPExport{signal}ServiceRequest"),
        };
        var responses = Responses(operation);
        responses["200"] = new JsonObject
        {
            ["description"] = $"OTLP Export{signal}ServiceResponse in the request's encoding; partialSuccess says what was rejected or truncated.",
            ["content"] = BothEncodings($"OTLPExport{signal}ServiceResponse"),
        };
        responses["413"] ??= Reference("PayloadTooLarge");
        responses["415"] ??= Reference("UnsupportedMediaType");
        AddParameter(operation, "project_id", "query", false, Uuid(), "A session's project (required for a dashboard session; an API key sends to its own project).");
    }

    /// <summary>Describes an OTLP export operation: a page of <paramref name="schema"/> with the paging header.</summary>
    public static void DescribeExport(JsonObject operation, string schema)
    {
        AddParameter(operation, "from", "query", true, DateTime(), "Start of the window (RFC 3339 with an offset), inclusive.");
        AddParameter(operation, "to", "query", true, DateTime(), "End of the window (RFC 3339 with an offset), exclusive.");
        AddParameter(operation, "project_id", "query", false, Uuid(), "One project of the caller's organization; absent: all the caller reaches.");
        AddParameter(operation, "limit", "query", false, new JsonObject { ["type"] = "integer", ["minimum"] = 1 }, "Most records in the page.");
        AddParameter(operation, "cursor", "query", false, new JsonObject { ["type"] = "string" }, "The X-Next-Cursor of the previous page, with the same query.");
        Responses(operation)["200"] = new JsonObject
        {
            ["description"] = $"OTLP {schema[4..]} JSON (or protobuf when Accept asks for it).",
            ["headers"] = new JsonObject
            {
                ["X-Next-Cursor"] = new JsonObject
                {
                    ["description"] = "Opaque cursor of the next page, present only when more remain.",
                    ["schema"] = new JsonObject { ["type"] = "string" },
                },
            },
            ["content"] = new JsonObject
            {
                [Json] = new JsonObject { ["schema"] = SchemaRef(schema) },
                [Protobuf] = new JsonObject { ["schema"] = Binary() },
            },
        };
    }

    private static JsonObject Responses(JsonObject operation) => operation["responses"] as JsonObject ?? (JsonObject)(operation["responses"] = new JsonObject());

    /// <summary>Adds a parameter unless the service's document already has one of that name and place.</summary>
    public static void AddParameter(JsonObject operation, string name, string place, bool required, JsonObject schema, string description)
    {
        var parameters = operation["parameters"] as JsonArray ?? (JsonArray)(operation["parameters"] = new JsonArray());
        if (parameters.OfType<JsonObject>().Any(p => (string?)p["name"] == name && (string?)p["in"] == place))
        {
            return;
        }

        parameters.Add(new JsonObject
        {
            ["name"] = name,
            ["in"] = place,
            ["required"] = required,
            ["description"] = description,
            ["schema"] = schema,
        });
    }

    private static JsonObject BothEncodings(string schema) => new()
    {
        [Protobuf] = new JsonObject { ["schema"] = Binary() },
        [Json] = new JsonObject { ["schema"] = SchemaRef(schema) },
    };

    private static JsonObject Binary() => new() { ["type"] = "string", ["format"] = "binary" };

    private static JsonObject Uuid() => new() { ["type"] = "string", ["format"] = "uuid" };

    private static JsonObject DateTime() => new() { ["type"] = "string", ["format"] = "date-time" };

    public static JsonObject SchemaRef(string name) => new() { ["$ref"] = $"#/components/schemas/{name}" };

    public static JsonObject Reference(string response) => new() { ["$ref"] = $"#/components/responses/{response}" };

    /// <summary>The OTLP schemas, named as in the seed's document (spec 001, 002), logs and metrics alike.</summary>
    public static JsonObject Schemas() => (JsonObject)JsonNode.Parse(SchemasJson)!;

    private const string SchemasJson = """
    {
      "OTLPKeyValue": {
        "type": "object",
        "properties": {
          "key": { "type": "string" },
          "value": { "type": "object", "description": "OTel AnyValue: one of stringValue, intValue, boolValue, doubleValue, arrayValue, kvlistValue, bytesValue.", "additionalProperties": true }
        }
      },
      "OTLPResource": {
        "type": "object",
        "properties": { "attributes": { "type": "array", "items": { "$ref": "#/components/schemas/OTLPKeyValue" } } }
      },
      "OTLPScope": {
        "type": "object",
        "properties": { "name": { "type": "string" }, "version": { "type": "string" } }
      },
      "OTLPSpan": {
        "type": "object",
        "properties": {
          "traceId": { "type": "string", "description": "128-bit trace id, hex" },
          "spanId": { "type": "string", "description": "64-bit span id, hex" },
          "parentSpanId": { "type": "string" },
          "name": { "type": "string" },
          "kind": { "type": "integer" },
          "startTimeUnixNano": { "type": "string", "format": "int64" },
          "endTimeUnixNano": { "type": "string", "format": "int64" },
          "attributes": { "type": "array", "items": { "$ref": "#/components/schemas/OTLPKeyValue" } },
          "events": { "type": "array", "items": { "type": "object", "additionalProperties": true } },
          "links": { "type": "array", "items": { "type": "object", "additionalProperties": true } },
          "status": { "type": "object", "properties": { "code": { "type": "integer" }, "message": { "type": "string" } } }
        }
      },
      "OTLPScopeSpans": {
        "type": "object",
        "properties": {
          "scope": { "$ref": "#/components/schemas/OTLPScope" },
          "spans": { "type": "array", "items": { "$ref": "#/components/schemas/OTLPSpan" } },
          "schemaUrl": { "type": "string" }
        }
      },
      "OTLPResourceSpans": {
        "type": "object",
        "properties": {
          "resource": { "$ref": "#/components/schemas/OTLPResource" },
          "scopeSpans": { "type": "array", "items": { "$ref": "#/components/schemas/OTLPScopeSpans" } },
          "schemaUrl": { "type": "string" }
        }
      },
      "OTLPTracesData": {
        "type": "object",
        "properties": { "resourceSpans": { "type": "array", "items": { "$ref": "#/components/schemas/OTLPResourceSpans" } } }
      },
      "OTLPExportTraceServiceRequest": {
        "type": "object",
        "description": "OTLP ExportTraceServiceRequest: the OTel protobuf shape in OTLP/JSON.",
        "properties": { "resourceSpans": { "type": "array", "items": { "$ref": "#/components/schemas/OTLPResourceSpans" } } }
      },
      "OTLPExportTraceServiceResponse": {
        "type": "object",
        "properties": {
          "partialSuccess": { "type": "object", "properties": { "rejectedSpans": { "type": "integer", "format": "int64" }, "errorMessage": { "type": "string" } } }
        }
      },
      "OTLPLogRecord": {
        "type": "object",
        "properties": {
          "timeUnixNano": { "type": "string", "format": "int64" },
          "observedTimeUnixNano": { "type": "string", "format": "int64" },
          "severityNumber": { "type": "integer" },
          "severityText": { "type": "string" },
          "body": { "type": "object", "additionalProperties": true },
          "attributes": { "type": "array", "items": { "$ref": "#/components/schemas/OTLPKeyValue" } },
          "traceId": { "type": "string" },
          "spanId": { "type": "string" },
          "eventName": { "type": "string" }
        }
      },
      "OTLPScopeLogs": {
        "type": "object",
        "properties": {
          "scope": { "$ref": "#/components/schemas/OTLPScope" },
          "logRecords": { "type": "array", "items": { "$ref": "#/components/schemas/OTLPLogRecord" } },
          "schemaUrl": { "type": "string" }
        }
      },
      "OTLPResourceLogs": {
        "type": "object",
        "properties": {
          "resource": { "$ref": "#/components/schemas/OTLPResource" },
          "scopeLogs": { "type": "array", "items": { "$ref": "#/components/schemas/OTLPScopeLogs" } },
          "schemaUrl": { "type": "string" }
        }
      },
      "OTLPLogsData": {
        "type": "object",
        "properties": { "resourceLogs": { "type": "array", "items": { "$ref": "#/components/schemas/OTLPResourceLogs" } } }
      },
      "OTLPExportLogsServiceRequest": {
        "type": "object",
        "description": "OTLP ExportLogsServiceRequest: the OTel protobuf shape in OTLP/JSON.",
        "properties": { "resourceLogs": { "type": "array", "items": { "$ref": "#/components/schemas/OTLPResourceLogs" } } }
      },
      "OTLPExportLogsServiceResponse": {
        "type": "object",
        "properties": {
          "partialSuccess": { "type": "object", "properties": { "rejectedLogRecords": { "type": "integer", "format": "int64" }, "errorMessage": { "type": "string" } } }
        }
      },
      "OTLPExportMetricsServiceRequest": {
        "type": "object",
        "description": "OTLP ExportMetricsServiceRequest; metrics are refused (README, \"Metrics\").",
        "properties": { "resourceMetrics": { "type": "array", "items": { "type": "object", "additionalProperties": true } } }
      },
      "OTLPExportMetricsServiceResponse": {
        "type": "object",
        "properties": {
          "partialSuccess": { "type": "object", "properties": { "rejectedDataPoints": { "type": "integer", "format": "int64" }, "errorMessage": { "type": "string" } } }
        }
      },
      "ErrorResponse": {
        "type": "object",
        "required": [ "error" ],
        "properties": { "error": { "type": "string", "description": "What went wrong and what to change." } }
      },
      "OTLPErrorResponse": {
        "type": "object",
        "description": "The OTLP/JSON error body: the google.rpc.Status fields plus the error field of ErrorResponse (a protobuf request gets a protobuf google.rpc.Status).",
        "required": [ "code", "message", "error" ],
        "properties": {
          "code": { "type": "integer", "description": "gRPC status code" },
          "message": { "type": "string" },
          "error": { "type": "string" }
        }
      }
    }
    """;
}
