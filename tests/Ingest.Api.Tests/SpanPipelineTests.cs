using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Ingest.Pipeline;
using Trulayer.Otlp.Pipeline;
using Trulayer.Otlp.Protobuf;
using Trulayer.Workload;

namespace Trulayer.Ingest.Tests;

/// <summary>The wire-level receiver: scanning, validation, truncation, grouping and record composition.</summary>
public sealed class SpanPipelineTests
{
    private static readonly Guid Project = Guid.Parse("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f");
    private const ulong Now = 1_750_000_000_000_000_000;

    private static (List<SpanRecord> Records, SpanTally Tally) Run(ExportTraceServiceRequest request, IngestOptions? options = null)
        => Run(request.ToByteArray(), options);

    private static (List<SpanRecord> Records, SpanTally Tally) Run(byte[] payload, IngestOptions? options = null)
    {
        options ??= new IngestOptions();
        var scan = new ExportRequestScanner(options).Scan(payload, Now);
        var records = SpanBatchComposer.Compose(scan, Project, Now, options.MaxRecordBytes);
        return (records, scan.Tally);
    }

    private static List<Span> SpansOf(IEnumerable<SpanRecord> records)
        => records.Select(r => SpanBatch.Parser.ParseFrom(r.Value)).SelectMany(b => b.ResourceSpans).SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).ToList();

    private static Span ValidSpan(byte traceSeed = 1, byte spanSeed = 1, string name = "s") => new()
    {
        TraceId = ByteString.CopyFrom(Enumerable.Repeat(traceSeed, 16).ToArray()),
        SpanId = ByteString.CopyFrom(Enumerable.Repeat(spanSeed, 8).ToArray()),
        Name = name,
        StartTimeUnixNano = Now - 1000,
        EndTimeUnixNano = Now,
    };

    private static ExportTraceServiceRequest RequestOf(params Span[] spans) => new()
    {
        ResourceSpans =
        {
            new ResourceSpans
            {
                Resource = new Resource { Attributes = { new KeyValue { Key = "service.name", Value = new AnyValue { StringValue = "svc" } } } },
                SchemaUrl = "https://opentelemetry.io/schemas/1.27.0",
                ScopeSpans = { new ScopeSpans { Scope = new InstrumentationScope { Name = "scope", Version = "2" }, Spans = { spans } } },
            },
        },
    };

    [Fact]
    public void Compose_GenAiBatch_OneRecordPerTraceWithEverySpanIntact()
    {
        var request = StandardBatch.GenAi(seed: 1);

        var (records, tally) = Run(request);

        Assert.Equal(1000, tally.Received);
        Assert.Equal(1000, tally.Accepted);
        Assert.Equal(10, records.Count);
        var original = request.ResourceSpans.Single();
        foreach (var record in records)
        {
            var batch = SpanBatch.Parser.ParseFrom(record.Value);
            var traceHex = Convert.ToHexStringLower(batch.TraceId.Span);
            Assert.Equal($"{Project}:{traceHex}", record.Key);
            Assert.Equal(Project.ToString(), batch.ProjectId);
            Assert.Equal(Now, batch.ReceivedTimeUnixNano);
            var resourceSpans = batch.ResourceSpans.Single();
            Assert.Equal(original.Resource, resourceSpans.Resource);
            Assert.Equal(original.SchemaUrl, resourceSpans.SchemaUrl);
            Assert.All(resourceSpans.ScopeSpans.SelectMany(s => s.Spans), s => Assert.Equal(batch.TraceId, s.TraceId));
            Assert.Equal(record.SpanCount, resourceSpans.ScopeSpans.Sum(s => s.Spans.Count));
            Assert.True(record.Value.Length < 1_000_000);
        }

        // Every span arrives byte for byte, with its scope, and in request order within its trace.
        var expected = original.ScopeSpans.SelectMany(s => s.Spans.Select(span => (s.Scope, span))).ToList();
        var actual = records.Select(r => SpanBatch.Parser.ParseFrom(r.Value))
            .SelectMany(b => b.ResourceSpans.Single().ScopeSpans.SelectMany(s => s.Spans.Select(span => (s.Scope, span))))
            .ToList();
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(
            expected.OrderBy(e => e.span.SpanId.ToBase64(), StringComparer.Ordinal).Select(e => (e.Scope, e.span.ToByteString())),
            actual.OrderBy(e => e.span.SpanId.ToBase64(), StringComparer.Ordinal).Select(e => (e.Scope, e.span.ToByteString())));
        foreach (var trace in expected.GroupBy(e => e.span.TraceId))
        {
            var inRecords = actual.Where(a => a.span.TraceId == trace.Key).Select(a => a.span.SpanId);
            Assert.Equal(trace.Select(t => t.span.SpanId).OrderBy(i => i.ToBase64(), StringComparer.Ordinal), inRecords.OrderBy(i => i.ToBase64(), StringComparer.Ordinal));
        }
    }

    [Fact]
    public void Compose_TraceLargerThanARecord_SplitsUnderTheSameKeyInOrder()
    {
        var request = StandardBatch.GenAi(spans: 400, traces: 1, seed: 2);
        var options = new IngestOptions { MaxRecordBytes = 50_000 };

        var (records, tally) = Run(request, options);

        Assert.Equal(400, tally.Accepted);
        Assert.True(records.Count > 10, $"{records.Count} records");
        Assert.Single(records.Select(r => r.Key).Distinct());
        Assert.All(records, r => Assert.True(r.Value.Length <= 50_000, $"{r.Value.Length} bytes"));
        var spans = SpansOf(records);
        Assert.Equal(request.ResourceSpans[0].ScopeSpans.SelectMany(s => s.Spans).Select(s => s.SpanId).OrderBy(i => i.ToBase64(), StringComparer.Ordinal),
            spans.Select(s => s.SpanId).OrderBy(i => i.ToBase64(), StringComparer.Ordinal));
    }

    [Fact]
    public void Compose_SpanLargerThanARecordAlone_IsRejectedTheRestKept()
    {
        var big = ValidSpan(spanSeed: 2, name: "big");
        for (var i = 0; i < 20; i++)
        {
            big.Attributes.Add(new KeyValue { Key = $"k{i}", Value = new AnyValue { StringValue = new string('x', 60_000) } });
        }

        var (records, tally) = Run(RequestOf(ValidSpan(spanSeed: 1), big, ValidSpan(spanSeed: 3)));

        Assert.Equal(1, tally.RejectedFor(RejectReason.TooLarge));
        Assert.Equal(2, tally.Accepted);
        Assert.Equal(["s", "s"], SpansOf(records).Select(s => s.Name));
        Assert.Contains("over 1000000 bytes", tally.Describe(new IngestOptions()), StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_InvalidSpans_AreRejectedAloneWithTheirReasons()
    {
        var shortTrace = ValidSpan(spanSeed: 2);
        shortTrace.TraceId = ByteString.CopyFrom(new byte[15]);
        var zeroTrace = ValidSpan(spanSeed: 3);
        zeroTrace.TraceId = ByteString.CopyFrom(new byte[16]);
        var noSpanId = ValidSpan();
        noSpanId.SpanId = ByteString.Empty;
        var badParent = ValidSpan(spanSeed: 4);
        badParent.ParentSpanId = ByteString.CopyFrom(new byte[4]);
        var backwards = ValidSpan(spanSeed: 5);
        backwards.EndTimeUnixNano = backwards.StartTimeUnixNano - 1;
        var deep = ValidSpan(spanSeed: 6);
        var value = new AnyValue { StringValue = "leaf" };
        for (var i = 0; i < 20; i++)
        {
            value = new AnyValue { ArrayValue = new ArrayValue { Values = { value } } };
        }

        deep.Attributes.Add(new KeyValue { Key = "deep", Value = value });

        var (records, tally) = Run(RequestOf(ValidSpan(spanSeed: 7, name: "good"), shortTrace, zeroTrace, noSpanId, badParent, backwards, deep));

        Assert.Equal(7, tally.Received);
        Assert.Equal(6, tally.Rejected);
        Assert.Equal(2, tally.RejectedFor(RejectReason.InvalidTraceId));
        Assert.Equal(1, tally.RejectedFor(RejectReason.InvalidSpanId));
        Assert.Equal(1, tally.RejectedFor(RejectReason.InvalidParentSpanId));
        Assert.Equal(1, tally.RejectedFor(RejectReason.EndBeforeStart));
        Assert.Equal(1, tally.RejectedFor(RejectReason.NestedTooDeep));
        Assert.Equal("good", SpansOf(records).Single().Name);
        var message = tally.Describe(new IngestOptions())!;
        Assert.StartsWith("6 of 7 spans rejected: 2 with a trace_id that is missing, not 16 bytes, or all zeros;", message, StringComparison.Ordinal);
        Assert.Contains("1 with end_time_unix_nano before start_time_unix_nano", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_SpanOverLimits_IsTruncatedAndOthersForwardedUntouched()
    {
        var big = ValidSpan(spanSeed: 2, name: "big");
        big.DroppedAttributesCount = 5;
        big.Attributes.Add(new KeyValue { Key = new string('k', 300), Value = new AnyValue { StringValue = "short" } });
        big.Attributes.Add(new KeyValue { Key = "prompt", Value = new AnyValue { StringValue = "p" + string.Concat(Enumerable.Repeat("é", 40_000)) } });
        big.Attributes.Add(new KeyValue { Key = "blob", Value = new AnyValue { BytesValue = ByteString.CopyFrom(new byte[70_000]) } });
        big.Attributes.Add(new KeyValue
        {
            Key = "list",
            Value = new AnyValue { ArrayValue = new ArrayValue { Values = { Enumerable.Range(0, 10).Select(_ => new AnyValue { StringValue = new string('a', 10_000) }) } } },
        });
        for (var i = 0; i < 200; i++)
        {
            big.Attributes.Add(new KeyValue { Key = $"a{i}", Value = new AnyValue { IntValue = i } });
        }

        for (var i = 0; i < 150; i++)
        {
            big.Events.Add(new Span.Types.Event { Name = $"e{i}", TimeUnixNano = Now });
        }

        for (var i = 0; i < 40; i++)
        {
            big.Links.Add(new Span.Types.Link { TraceId = big.TraceId, SpanId = ByteString.CopyFrom(new byte[8]) });
        }

        var untouched = ValidSpan(spanSeed: 3, name: "untouched");
        untouched.Attributes.Add(new KeyValue { Key = "exactly", Value = new AnyValue { StringValue = new string('x', 65_536) } });

        var (records, tally) = Run(RequestOf(big, untouched));

        Assert.Equal(0, tally.Rejected);
        Assert.Equal(1, tally.Truncated);
        var spans = SpansOf(records);
        var cut = spans.Single(s => s.Name == "big");
        Assert.Equal(128, cut.Attributes.Count);
        Assert.Equal(5u + 204 - 128, cut.DroppedAttributesCount);
        Assert.Equal(256, cut.Attributes[0].Key.Length);
        // Cut on a character boundary: the 65,536th byte would split an "é".
        Assert.Equal(65_535, System.Text.Encoding.UTF8.GetByteCount(cut.Attributes[1].Value.StringValue));
        Assert.EndsWith("é", cut.Attributes[1].Value.StringValue, StringComparison.Ordinal);
        Assert.Equal(65_536, cut.Attributes[2].Value.BytesValue.Length);
        Assert.True(cut.Attributes[3].Value.ArrayValue.CalculateSize() <= 65_536);
        Assert.Equal(7, cut.Attributes[3].Value.ArrayValue.Values.Count);
        Assert.Equal(new string('a', 10_000), cut.Attributes[3].Value.ArrayValue.Values[5].StringValue);
        Assert.Equal(128, cut.Events.Count);
        Assert.Equal(22u, cut.DroppedEventsCount);
        Assert.Equal(32, cut.Links.Count);
        Assert.Equal(8u, cut.DroppedLinksCount);
        Assert.Equal(untouched, spans.Single(s => s.Name == "untouched"));

        var message = tally.Describe(new IngestOptions())!;
        Assert.StartsWith("Warning: 1 spans accepted truncated:", message, StringComparison.Ordinal);
        Assert.Contains("attribute keys over 256 bytes", message, StringComparison.Ordinal);
        Assert.Contains("more than 32 links", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_EventAttributesOverLimits_AreBounded()
    {
        var span = ValidSpan(name: "events");
        var e = new Span.Types.Event { Name = "e", TimeUnixNano = Now };
        for (var i = 0; i < 130; i++)
        {
            e.Attributes.Add(new KeyValue { Key = $"k{i}", Value = new AnyValue { StringValue = "v" } });
        }

        span.Events.Add(e);

        var (records, tally) = Run(RequestOf(span));

        Assert.Equal(1, tally.TruncatedFor(Truncations.TooManyAttributes));
        var cut = SpansOf(records).Single().Events.Single();
        Assert.Equal(128, cut.Attributes.Count);
        Assert.Equal(2u, cut.DroppedAttributesCount);
    }

    [Fact]
    public void Scan_UnknownFields_AreForwarded()
    {
        var span = ValidSpan(name: "future");
        var spanBytes = span.ToByteArray().Concat(new byte[] { 0xA2, 0x06, 0x03, (byte)'n', (byte)'e', (byte)'w' }).ToArray(); // field 100, "new"
        var scope = new ScopeSpans { Scope = new InstrumentationScope { Name = "scope" } }.ToByteArray();
        var scopeSpans = scope.Concat(Field(2, spanBytes)).Concat(new byte[] { 0xF8, 0x01, 0x07 }).ToArray(); // field 31 varint 7
        var payload = Field(1, Field(2, scopeSpans));

        var (records, _) = Run(payload);

        var value = records.Single().Value;
        var forwarded = SpanBatch.Parser.ParseFrom(value).ResourceSpans.Single().ScopeSpans.Single();
        Assert.Equal(spanBytes, forwarded.Spans.Single().ToByteArray());
        Assert.True(value.AsSpan().IndexOf(new byte[] { 0xF8, 0x01, 0x07 }) > 0);
    }

    [Fact]
    public void Compose_RunsOfOneTrace_CopiedVerbatimAndPaddedOrCutSpansRewrittenCanonically()
    {
        // Trace 1's spans in runs broken by trace 2's span, by a span cut at the limits (rewritten), and by
        // one whose length a sender padded (a varint one byte longer than needed, which protobuf allows).
        var spans = new[] { ValidSpan(1, 1, "a1"), ValidSpan(1, 2, "a2"), ValidSpan(2, 3, "b1"), ValidSpan(1, 4, "a3"), ValidSpan(1, 5, "a4"), ValidSpan(1, 6, "a5"), ValidSpan(1, 7, "a6") };
        spans[3].Attributes.Add(new KeyValue { Key = new string('k', 300), Value = new AnyValue { StringValue = "v" } });
        var scope = new ScopeSpans { Scope = new InstrumentationScope { Name = "scope" } }.ToByteArray().AsEnumerable();
        foreach (var span in spans)
        {
            var bytes = span.ToByteArray();
            scope = scope.Concat(span.Name == "a5" ? PaddedField(2, bytes) : Field(2, bytes));
        }

        var (records, tally) = Run(Field(1, Field(2, scope.ToArray())));

        Assert.Equal(1, tally.Truncated);
        Assert.Equal(2, records.Count);
        foreach (var record in records)
        {
            // Byte for byte what protobuf itself writes for the same batch: every header the shortest.
            Assert.Equal(SpanBatch.Parser.ParseFrom(record.Value).ToByteArray(), record.Value);
        }

        var trace1 = SpansOf(records.Take(1));
        Assert.Equal(["a1", "a2", "a3", "a4", "a5", "a6"], trace1.Select(s => s.Name));
        Assert.All(trace1.Where(s => s.Name != "a3"), s => Assert.Equal(spans.Single(o => o.Name == s.Name), s));
        Assert.Equal(256, trace1.Single(s => s.Name == "a3").Attributes.Single().Key.Length);
        Assert.Equal(spans[2], SpansOf(records.Skip(1)).Single());
    }

    /// <summary>A length-delimited field whose length varint is one byte longer than it needs to be.</summary>
    private static byte[] PaddedField(int number, byte[] content)
    {
        var prefix = new byte[11];
        var n = ProtoWire.WriteLengthPrefix(prefix, number, content.Length);
        prefix[n - 1] |= 0x80;
        prefix[n] = 0x00;
        return prefix[..(n + 1)].Concat(content).ToArray();
    }

    private static byte[] Field(int number, byte[] content)
    {
        var prefix = new byte[10];
        var n = ProtoWire.WriteLengthPrefix(prefix, number, content.Length);
        return prefix[..n].Concat(content).ToArray();
    }

    [Fact]
    public void Scan_SpansOfSeveralResourcesAndScopes_KeepTheirOwnHeaders()
    {
        var request = new ExportTraceServiceRequest();
        for (var r = 0; r < 2; r++)
        {
            var resourceSpans = new ResourceSpans { Resource = new Resource { Attributes = { new KeyValue { Key = "service.name", Value = new AnyValue { StringValue = $"svc{r}" } } } } };
            for (var s = 0; s < 2; s++)
            {
                resourceSpans.ScopeSpans.Add(new ScopeSpans
                {
                    Scope = new InstrumentationScope { Name = $"scope{r}{s}" },
                    Spans = { ValidSpan(traceSeed: 1, spanSeed: (byte)(10 + (r * 2) + s), name: $"{r}{s}"), ValidSpan(traceSeed: 2, spanSeed: (byte)(20 + (r * 2) + s), name: $"{r}{s}") },
                });
            }

            request.ResourceSpans.Add(resourceSpans);
        }

        var (records, _) = Run(request);

        Assert.Equal(2, records.Count);
        foreach (var record in records)
        {
            var batch = SpanBatch.Parser.ParseFrom(record.Value);
            Assert.Equal(["svc0", "svc1"], batch.ResourceSpans.Select(r => r.Resource.Attributes.Single().Value.StringValue));
            foreach (var resourceSpans in batch.ResourceSpans)
            {
                Assert.All(resourceSpans.ScopeSpans, s => Assert.Equal("scope" + s.Spans.Single().Name, s.Scope.Name));
            }
        }
    }

    [Fact]
    public void Scan_MoreSpansThanTheLimit_Throws()
    {
        var error = Assert.Throws<TooManySpansException>(() => Run(StandardBatch.Lean(spans: 101), new IngestOptions { MaxSpansPerRequest = 100 }));

        Assert.Contains("more than 100 spans", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_RetentionConfigured_RejectsSpansOlderThanTheWindow()
    {
        var old = ValidSpan(spanSeed: 2, name: "old");
        old.StartTimeUnixNano = Now - (8UL * 86_400_000_000_000);
        old.EndTimeUnixNano = old.StartTimeUnixNano + 1;

        var (records, tally) = Run(RequestOf(ValidSpan(), old), new IngestOptions { RetentionDays = 7 });

        Assert.Equal(1, tally.RejectedFor(RejectReason.OutsideRetention));
        Assert.Equal("s", SpansOf(records).Single().Name);
        Assert.Contains("7-day retention window", tally.Describe(new IngestOptions { RetentionDays = 7 }), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("truncated-span")]
    [InlineData("bad-attribute")]
    [InlineData("bad-resource")]
    public void Scan_MalformedProtobuf_NamesWhere(string kind)
    {
        var span = ValidSpan().ToByteArray();
        byte[] payload = kind switch
        {
            "truncated-span" => Field(1, Field(2, [0x12, (byte)(span.Length + 5), .. span])),
            "bad-attribute" => Field(1, Field(2, Field(2, [.. span, .. Field(9, [0x0A, 0x09, 0x61])]))),
            _ => Field(1, Field(1, Field(1, [0x12, 0x05, 0x0A]))),
        };

        var error = Assert.Throws<ProtobufFormatException>(() => Run(payload));

        var where = kind switch
        {
            "truncated-span" => "resource_spans[0].scope_spans[0]:",
            "bad-attribute" => "resource_spans[0].scope_spans[0].spans[0]:",
            _ => "resource_spans[0].resource:",
        };
        Assert.StartsWith(where, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_MutatedRequests_EitherRefusedOrForwardedAsParseableRecords()
    {
        var valid = StandardBatch.GenAi(spans: 30, traces: 3, seed: 9).ToByteArray();
        var random = new Random(1234);
        var refused = 0;
        for (var round = 0; round < 2000; round++)
        {
            var mutated = (byte[])valid.Clone();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
            {
                mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
            }

            if (round % 5 == 0)
            {
                mutated = mutated[..random.Next(mutated.Length)];
            }

            try
            {
                var (records, tally) = Run(mutated);
                var forwarded = records.Sum(r => SpanBatch.Parser.ParseFrom(r.Value).ResourceSpans.SelectMany(x => x.ScopeSpans).Sum(x => x.Spans.Count));
                Assert.Equal(tally.Accepted, forwarded);
            }
            catch (ProtobufFormatException)
            {
                refused++;
            }
        }

        Assert.InRange(refused, 100, 1990);
    }

    [Fact]
    public void Scan_MutatedJson_EitherRefusedWithAPathOrForwarded()
    {
        var valid = Otlp.Json.OtlpJson.SerializeExportTraceServiceRequest(StandardBatch.GenAi(spans: 20, traces: 2, seed: 9));
        var random = new Random(4321);
        var symbols = "{}[]\\\":,0aZ- u"u8.ToArray();
        var refused = 0;
        for (var round = 0; round < 2000; round++)
        {
            var mutated = (byte[])valid.Clone();
            for (var flips = random.Next(1, 3); flips > 0; flips--)
            {
                mutated[random.Next(mutated.Length)] = symbols[random.Next(symbols.Length)];
            }

            try
            {
                using var payload = Otlp.Json.OtlpJson.TranscodeTraces(mutated);
                var (records, tally) = Run(payload.Bytes.ToArray());
                Assert.Equal(tally.Accepted, SpansOf(records).Count);
            }
            catch (Otlp.Json.OtlpJsonException ex)
            {
                Assert.NotEmpty(ex.Path);
                refused++;
            }
        }

        Assert.InRange(refused, 100, 2000);
    }

    [Fact]
    public void Scan_EmptyPayload_HasNoSpans()
    {
        var (records, tally) = Run([]);

        Assert.Empty(records);
        Assert.Equal(0, tally.Received);
        Assert.Null(tally.Describe(new IngestOptions()));
    }
}
