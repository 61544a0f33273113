using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Pipeline;

namespace Trulayer.Processor.Tests;

/// <summary>Kafka records of otlp.spans.v1 as ingest produces them: one SpanBatch per (project, trace).</summary>
internal static class SpanRecords
{
    public static List<Message<byte[]?, byte[]?>> FromRequest(Guid projectId, ExportTraceServiceRequest request, DateTimeOffset? receivedAt = null)
    {
        var received = (ulong)((receivedAt ?? DateTimeOffset.UtcNow).ToUnixTimeMilliseconds() * 1_000_000);
        var batches = new Dictionary<ByteString, SpanBatch>();
        foreach (var resourceSpans in request.ResourceSpans)
        {
            foreach (var scopeSpans in resourceSpans.ScopeSpans)
            {
                foreach (var span in scopeSpans.Spans)
                {
                    if (!batches.TryGetValue(span.TraceId, out var batch))
                    {
                        batch = new SpanBatch { ProjectId = projectId.ToString(), TraceId = span.TraceId, ReceivedTimeUnixNano = received };
                        batches.Add(span.TraceId, batch);
                    }

                    var target = batch.ResourceSpans.FirstOrDefault(r => r.Resource == resourceSpans.Resource && r.SchemaUrl == resourceSpans.SchemaUrl);
                    if (target is null)
                    {
                        target = new ResourceSpans { Resource = resourceSpans.Resource, SchemaUrl = resourceSpans.SchemaUrl };
                        batch.ResourceSpans.Add(target);
                    }

                    var scope = target.ScopeSpans.FirstOrDefault(s => s.Scope == scopeSpans.Scope && s.SchemaUrl == scopeSpans.SchemaUrl);
                    if (scope is null)
                    {
                        scope = new ScopeSpans { Scope = scopeSpans.Scope, SchemaUrl = scopeSpans.SchemaUrl };
                        target.ScopeSpans.Add(scope);
                    }

                    scope.Spans.Add(span);
                }
            }
        }

        return [.. batches.Values.Select(ToMessage)];
    }

    public static Message<byte[]?, byte[]?> ToMessage(SpanBatch batch) => new()
    {
        Key = Encoding.UTF8.GetBytes($"{batch.ProjectId}:{Convert.ToHexStringLower(batch.TraceId.Span)}"),
        Value = batch.ToByteArray(),
    };

    public static async Task ProduceAsync(KafkaFixture kafka, IEnumerable<Message<byte[]?, byte[]?>> messages, string? topic = null)
    {
        using var producer = kafka.CreateClientFactory().CreateProducer<byte[]?, byte[]?>("test-producer");
        foreach (var message in messages)
        {
            await producer.ProduceAsync(topic ?? Trulayer.ServiceDefaults.Kafka.KafkaTopics.Spans, message);
        }
    }
}
