using System.Buffers.Binary;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Workload;

namespace Trulayer.Export.Tests;

/// <summary>Keyset paging: every span of the window exactly once, in export order, over a snapshot the first page pins.</summary>
[Collection(ExportCollection.Name)]
public sealed class PagingTests(ExportStack stack)
{
    [Fact]
    public async Task Export_25000SpansInPagesOf10000_EverySpanOnceAndCursorUntilTheLast()
    {
        var project = await stack.TwentyFiveThousandSpansAsync();

        var pages = await stack.ExportAllAsync(ExportStack.Viewer(project.Tenant), project.Window + "&limit=10000");

        Assert.Equal([10_000, 10_000, 5_000], pages.Select(p => p.Spans.Count()));
        Assert.Equal([true, true, false], pages.Select(p => p.NextCursor is not null));
        AssertEverySpanOnceInOrder(project.Keys, pages);
    }

    [Fact]
    public async Task Export_25000SpansInPagesOf7_EverySpanOnceAndCursorUntilTheLast()
    {
        var project = await stack.TwentyFiveThousandSpansAsync();

        var pages = await stack.ExportAllAsync(ExportStack.Viewer(project.Tenant), project.Window + "&limit=7");

        Assert.Equal(3_572, pages.Count);
        Assert.All(pages.SkipLast(1), p => Assert.Equal(7, p.Spans.Count()));
        Assert.Equal(25_000 % 7, pages[^1].Spans.Count());
        Assert.All(pages.SkipLast(1), p => Assert.NotNull(p.NextCursor));
        Assert.Null(pages[^1].NextCursor);
        AssertEverySpanOnceInOrder(project.Keys, pages);
    }

    [Fact]
    public async Task Export_SpansArrivingBetweenPages_NeitherAppearNorShiftPages()
    {
        var tenant = await stack.NewTenantAsync();
        var start = DateTimeOffset.UtcNow.AddHours(-2);
        var window = RoundTripTests.Window(start);
        var first = StandardBatch.Lean(spans: 3_000, traces: 30, start: start);
        await stack.IngestAsync(tenant.ApiKey, first);
        await stack.WaitForSpansAsync(tenant.Project, 3_000);
        var caller = ExportStack.Viewer(tenant);

        var page1 = (await stack.ExportAllAsync(caller, window + "&limit=1000", maxPages: 1)).Single();
        // Late spans all over the window: before the first page's last span, between its spans, after it.
        var late = StandardBatch.Lean(spans: 2_000, traces: 40, start: start.AddTicks(5_000));
        await stack.IngestAsync(tenant.ApiKey, late);
        await stack.WaitForSpansAsync(tenant.Project, 5_000);
        var rest = await stack.ExportAllAsync(caller, window + "&limit=1000", cursor: page1.NextCursor);
        var fresh = await stack.ExportAllAsync(caller, window + "&limit=10000");

        List<ExportedPage> pages = [page1, .. rest];
        Assert.Equal([1_000, 1_000, 1_000], pages.Select(p => p.Spans.Count()));
        Assert.Equal([true, true, false], pages.Select(p => p.NextCursor is not null));
        AssertEverySpanOnceInOrder(Keys(first), pages);
        Assert.Equal(5_000, fresh.Sum(p => p.Spans.Count()));
    }

    internal static HashSet<string> Keys(OpenTelemetry.Proto.Collector.Trace.V1.ExportTraceServiceRequest request)
        => [.. request.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).Select(Key)];

    private static string Key(Span span) => Convert.ToHexStringLower(span.TraceId.Span) + "/" + Convert.ToHexStringLower(span.SpanId.Span);

    private static void AssertEverySpanOnceInOrder(HashSet<string> expected, List<ExportedPage> pages)
    {
        var spans = pages.SelectMany(p => p.Spans).ToList();
        var keys = spans.Select(Key).ToList();
        Assert.Equal(keys.Count, keys.Distinct().Count());
        Assert.True(expected.SetEquals(keys), $"{expected.Except(keys).Count()} spans missing, {keys.Except(expected).Count()} unexpected");
        for (var i = 1; i < spans.Count; i++)
        {
            Assert.True(Compare(spans[i - 1], spans[i]) < 0, $"span {i} ({Key(spans[i])}) comes before span {i - 1} ({Key(spans[i - 1])}) in export order");
        }
    }

    /// <summary>Export order as stored: start time to the microsecond, trace id bytes, span id as a signed big-endian number.</summary>
    private static int Compare(Span a, Span b)
    {
        var byTime = (a.StartTimeUnixNano / 1000).CompareTo(b.StartTimeUnixNano / 1000);
        if (byTime != 0)
        {
            return byTime;
        }

        var byTrace = a.TraceId.Span.SequenceCompareTo(b.TraceId.Span);
        return byTrace != 0 ? byTrace : BinaryPrimitives.ReadInt64BigEndian(a.SpanId.Span).CompareTo(BinaryPrimitives.ReadInt64BigEndian(b.SpanId.Span));
    }
}
