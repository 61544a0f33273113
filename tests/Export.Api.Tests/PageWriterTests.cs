using System.IO.Pipelines;
using Google.Protobuf;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Export.Output;
using Trulayer.Export.Storage;
using Trulayer.Otlp.Json;
using Trulayer.Workload;

namespace Trulayer.Export.Tests;

/// <summary>The page writers keep what the response holds unflushed small, however large the page; and their output parses.</summary>
public sealed class PageWriterTests
{
    [Theory]
    [InlineData("json")]
    [InlineData("protobuf")]
    public async Task Writer_LargePage_NeverHoldsMuchUnflushed(string format)
    {
        var batch = StandardBatch.GenAi(spans: 2_000, traces: 20, seed: 3);
        var resourceSpans = batch.ResourceSpans[0];
        var groups = resourceSpans.ScopeSpans.Select((s, i) => Group(resourceSpans, s, i)).ToList();
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var writer = (format == "json" ? OtlpFormat.Json : OtlpFormat.Protobuf).CreateWriter(pipe.Writer);
        var body = new MemoryStream();
        var reading = pipe.Reader.CopyToAsync(body);
        long mostUnflushed = 0;
        var largestSpan = 0;

        writer.Begin(groups);
        for (var g = 0; g < groups.Count; g++)
        {
            writer.BeginGroup(g);
            foreach (var span in resourceSpans.ScopeSpans[g].Spans)
            {
                var bytes = span.ToByteArray();
                largestSpan = Math.Max(largestSpan, bytes.Length);
                writer.WriteSpan(bytes);
                mostUnflushed = Math.Max(mostUnflushed, pipe.Writer.UnflushedBytes);
                if (writer.ShouldFlush)
                {
                    await writer.FlushAsync(CancellationToken.None);
                }
            }
        }

        writer.End();
        await writer.FlushAsync(CancellationToken.None);
        await pipe.Writer.CompleteAsync();
        await reading;

        // A span's JSON is a few times its protobuf size; the buffered part stays near the 32 KiB threshold.
        Assert.InRange(mostUnflushed, 1, (32 * 1024) + (8 * largestSpan));
        Assert.True(body.Length > 20 * 32 * 1024, $"the page is only {body.Length} bytes");
        var data = format == "json" ? OtlpJson.ParseTracesData(body.ToArray()) : TracesData.Parser.ParseFrom(body.ToArray());
        Assert.Equal(SpanFact.Of(batch), SpanFact.Of(data));
    }

    private static SpanGroup Group(ResourceSpans resource, ScopeSpans scope, int index) => new(
        Guid.Empty,
        Guid.Empty,
        new Guid(index, 0, 0, new byte[8]),
        scope.Spans.Count,
        scope.Spans.Sum(s => SpanGroup.SpanFieldSize(s.CalculateSize())),
        resource.Resource.ToByteArray(),
        resource.SchemaUrl,
        scope.Scope.ToByteArray(),
        scope.SchemaUrl);
}
