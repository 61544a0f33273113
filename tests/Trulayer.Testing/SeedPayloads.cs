namespace Trulayer.Testing;

/// <summary>The example payloads of the products Trulayer is modelled on, exactly as their documents print them.</summary>
public static class SeedPayloads
{
    /// <summary>2Signal's OTLP/JSON request (shared/spec/003).</summary>
    public const string TwoSignalExample = """
        {
        "resourceSpans": [
        {
        "resource": {
        "attributes": [
        { "key": "service.name", "value": { "stringValue": "my-agent" } }
        ]
        },
        "scopeSpans": [
        {
        "scope": { "name": "openai-instrumentation", "version": "1.0.0" },
        "spans": [
        {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "parentSpanId": "",
        "name": "ChatCompletion",
        "kind": 3,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000002000000000",
        "attributes": [
        { "key": "gen_ai.system", "value": { "stringValue": "openai" } },
        { "key": "gen_ai.request.model", "value": { "stringValue": "gpt-4o" } },
        { "key": "gen_ai.usage.input_tokens", "value": { "intValue": 150 } },
        { "key": "gen_ai.usage.output_tokens", "value": { "intValue": 50 } }
        ],
        "status": { "code": 1 }
        }
        ]
        }
        ]
        }
        ]
        }
        """;

    /// <summary>ActivityLog's "Verify your wiring" smoke span (shared/spec/004).</summary>
    public const string ActivityLogSmokeSpan = """
        {
          "resourceSpans": [{
            "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "smoke-test" } }] },
            "scopeSpans": [{
              "spans": [{
                "traceId": "5b8aa5a2d2c872e8321cf37308d69df2",
                "spanId": "051581bf3cb55c13",
                "name": "smoke.test",
                "kind": 1,
                "startTimeUnixNano": "1730812800000000000",
                "endTimeUnixNano": "1730812800100000000"
              }]
            }]
          }]
        }
        """;
}
