using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace Trulayer.Export.Tests;

/// <summary>A span with everything OTLP says about it: its resource and scope and their schema URLs (an absent message counts as empty).</summary>
internal sealed record SpanFact(string Key, Span Span, Resource Resource, string ResourceSchemaUrl, InstrumentationScope Scope, string ScopeSchemaUrl)
{
    public static List<SpanFact> Of(IEnumerable<ResourceSpans> resourceSpans)
        =>
        [
            .. from r in resourceSpans
               from s in r.ScopeSpans
               from span in s.Spans
               let key = Convert.ToHexStringLower(span.TraceId.Span) + "/" + Convert.ToHexStringLower(span.SpanId.Span)
               orderby key
               select new SpanFact(key, span, r.Resource ?? new Resource(), r.SchemaUrl, s.Scope ?? new InstrumentationScope(), s.SchemaUrl),
        ];

    public static List<SpanFact> Of(ExportTraceServiceRequest request) => Of(request.ResourceSpans);

    public static List<SpanFact> Of(TracesData data) => Of(data.ResourceSpans);
}
