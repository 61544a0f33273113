using System.Diagnostics;
using Google.Protobuf;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Trulayer.ServiceDefaults.Identity;
using static Trulayer.Ingest.Tests.OtlpClient;

namespace Trulayer.Ingest.Tests;

/// <summary>
/// A trace of 50 spans sent by the real OpenTelemetry .NET SDK (OpenTelemetry.Exporter.OpenTelemetryProtocol)
/// in http/protobuf and in gRPC mode, with the identity assertion in its Headers, arrives in Kafka whole.
/// </summary>
public sealed class OpenTelemetrySdkTests(IngestFixture fixture) : IClassFixture<IngestFixture>
{
    private const int SpanCount = 50;

    [Theory]
    [InlineData("http/protobuf", "/v1/otlp/traces")]
    [InlineData("http/protobuf", "/v1/otlp/v1/traces")]
    [InlineData("grpc", "")]
    public async Task Export_FiftySpanTraceFromTheSdk_ArrivesCompleteUnderItsKey(string protocol, string path)
    {
        var project = Guid.NewGuid();
        using var source = new ActivitySource("trulayer.tests.sdk." + Guid.NewGuid().ToString("N"));
        using (var provider = Sdk.CreateTracerProviderBuilder()
                   .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("sdk-test", serviceVersion: "9.9.9"))
                   .AddSource(source.Name)
                   .AddOtlpExporter(exporter =>
                   {
                       exporter.Protocol = protocol == "grpc" ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                       exporter.Endpoint = protocol == "grpc" ? fixture.Host.Grpc : new Uri(fixture.Host.Http, path);
                       exporter.Headers = $"{IdentityAssertion.HeaderName}={ApiKey(project)}";
                       exporter.TimeoutMilliseconds = 30_000;
                   })
                   .Build())
        {
            EmitTrace(source);
            Assert.True(provider.ForceFlush(30_000), "the SDK's exporter did not flush");
        }

        var records = RecordsOf(fixture.Kafka, project);
        var spans = SpansOf(records);
        Assert.Equal(SpanCount, spans.Count);
        var traceId = spans[0].TraceId;
        Assert.All(spans, s => Assert.Equal(traceId, s.TraceId));
        Assert.All(records, r => Assert.Equal($"{project}:{Convert.ToHexStringLower(traceId.Span)}", r.Key));
        Assert.All(records, r => Assert.Equal("sdk-test", r.Batch.ResourceSpans.Single().Resource.Attributes.Single(a => a.Key == "service.name").Value.StringValue));

        var root = spans.Single(s => s.ParentSpanId.IsEmpty);
        for (var i = 1; i < SpanCount; i++)
        {
            var span = spans.Single(s => s.Name == $"step {i}");
            Assert.Equal(root.SpanId, span.ParentSpanId);
            var expected = ExpectedAttributes(i);
            Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), span.Attributes.Select(a => a.Key).Order(StringComparer.Ordinal));
            foreach (var attribute in span.Attributes)
            {
                Assert.Equal(expected[attribute.Key], attribute.Value);
            }

            if (i % 5 == 0)
            {
                var e = span.Events.Single();
                Assert.Equal("retrieved", e.Name);
                Assert.Equal(i, e.Attributes.Single(a => a.Key == "documents").Value.IntValue);
            }

            if (i % 7 == 0)
            {
                Assert.Equal(root.SpanId, span.Links.Single().SpanId);
            }
        }
    }

    private static void EmitTrace(ActivitySource source)
    {
        using var root = source.StartActivity("agent.run", ActivityKind.Server)!;
        for (var i = 1; i < SpanCount; i++)
        {
            var links = i % 7 == 0 ? new[] { new ActivityLink(root.Context) } : null;
            using var child = source.StartActivity($"step {i}", ActivityKind.Client, root.Context, links: links)!;
            foreach (var (key, value) in Tags(i))
            {
                child.SetTag(key, value);
            }

            if (i % 5 == 0)
            {
                child.AddEvent(new ActivityEvent("retrieved", tags: new ActivityTagsCollection { ["documents"] = (long)i }));
            }
        }
    }

    private static IEnumerable<(string, object)> Tags(int i)
    {
        yield return ("gen_ai.system", "openai");
        yield return ("gen_ai.request.model", "gpt-4o");
        yield return ("gen_ai.usage.input_tokens", (long)(i * 10));
        yield return ("gen_ai.request.temperature", 0.25 * i);
        yield return ("cache.hit", i % 2 == 0);
        yield return ("gen_ai.response.finish_reasons", new[] { "stop", "length" });
        yield return ("retrieval.document_ids", new long[] { i, i + 1 });
        yield return ("gen_ai.prompt", $"prompt {i}: " + new string('p', 2048));
        yield return ("unicode", "naïve café 😀");
    }

    private static Dictionary<string, AnyValue> ExpectedAttributes(int i) => Tags(i).ToDictionary(t => t.Item1, t => t.Item2 switch
    {
        string s => new AnyValue { StringValue = s },
        long l => new AnyValue { IntValue = l },
        double d => new AnyValue { DoubleValue = d },
        bool b => new AnyValue { BoolValue = b },
        string[] strings => new AnyValue { ArrayValue = new ArrayValue { Values = { strings.Select(s => new AnyValue { StringValue = s }) } } },
        long[] longs => new AnyValue { ArrayValue = new ArrayValue { Values = { longs.Select(l => new AnyValue { IntValue = l }) } } },
        _ => throw new InvalidOperationException(t.Item2.GetType().Name),
    });
}
