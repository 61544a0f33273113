using Google.Protobuf;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Pipeline;
using Trulayer.Processor.DeadLetters;
using static Trulayer.Processor.Tests.TestSpans;

namespace Trulayer.Processor.Tests;

public sealed class DeadLetterFactsTests
{
    [Fact]
    public void Read_SpanBatch_ProjectOrganizationAndSpanCount()
    {
        var (project, organization, trace) = (Guid.NewGuid(), Guid.NewGuid(), Id(16));
        var batch = new SpanBatch { ProjectId = project.ToString(), OrganizationId = organization.ToString(), TraceId = trace };
        batch.ResourceSpans.Add(new ResourceSpans { ScopeSpans = { new ScopeSpans { Spans = { Span(trace, "a", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1)), Span(trace, "b", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1)) } } } });
        batch.ResourceSpans.Add(new ResourceSpans { ScopeSpans = { new ScopeSpans { Spans = { Span(trace, "c", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1)) } } } });

        var facts = DeadLetterFacts.Read([1, 2], batch.ToByteArray());

        Assert.Equal((project, organization, 3), (facts.ProjectId, facts.OrganizationId, facts.ItemCount));
        Assert.Equal(facts.RecordHash, DeadLetterFacts.Read([1, 2], batch.ToByteArray()).RecordHash);
        Assert.NotEqual(facts.RecordHash, DeadLetterFacts.Read([1, 3], batch.ToByteArray()).RecordHash);
    }

    [Fact]
    public void Read_AnyBytes_NeverThrows_UnreadableFactsAreNull()
    {
        var random = new Random(17);
        var valid = new SpanBatch { ProjectId = Guid.NewGuid().ToString(), TraceId = Id(16), ResourceSpans = { new ResourceSpans { ScopeSpans = { new ScopeSpans { Spans = { new Span { Name = "x" } } } } } } }.ToByteArray();
        for (var i = 0; i < 2000; i++)
        {
            var bytes = i % 2 == 0 ? new byte[random.Next(0, 64)] : valid[..random.Next(0, valid.Length)];
            if (i % 2 == 0)
            {
                random.NextBytes(bytes);
            }

            var facts = DeadLetterFacts.Read(null, bytes);
            Assert.Equal(32, facts.RecordHash.Length);
        }

        Assert.Equal((null, null, null), (DeadLetterFacts.Read(null, null).ProjectId, DeadLetterFacts.Read(null, null).OrganizationId, DeadLetterFacts.Read(null, null).ItemCount));
        Assert.Null(DeadLetterFacts.Read(null, [0x22, 0x05, 0x12, 0x09]).ItemCount);
    }
}
