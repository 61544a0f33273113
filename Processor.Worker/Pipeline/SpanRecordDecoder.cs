using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Google.Protobuf;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using Trulayer.Otlp.GenAi;
using Trulayer.Otlp.Protobuf;
using Trulayer.Processor.Pricing;
using Trulayer.Processor.Storage;

namespace Trulayer.Processor.Pipeline;

/// <summary>
/// Turns one Kafka record of otlp.spans.v1 (a <c>trulayer.pipeline.v1.SpanBatch</c>) into rows, or into a
/// dead letter naming what is wrong with it. Walks the record's wire format so each span's stored bytes
/// are exactly the bytes that arrived, and reads each span's projections from its wire format too
/// (<see cref="SpanWire"/>). Not thread-safe: one per consume loop.
/// </summary>
internal sealed class SpanRecordDecoder(DimensionCache cache, int maxTextBytes, ModelPriceTable? prices = null, PriceOverrides? overrides = null)
{
    private readonly ModelPriceTable _prices = prices ?? ModelPriceTable.Default;

    private const int ResourceSpansResource = 1, ResourceSpansScopeSpans = 2, ResourceSpansSchemaUrl = 3;
    private const int ScopeSpansScope = 1, ScopeSpansSpans = 2, ScopeSpansSchemaUrl = 3;

    private readonly SpanAttributes _attributes = new();

    public (DecodedRecord? Record, DeadLetter? DeadLetter) Decode(ConsumeResult<byte[]?, byte[]?> source)
    {
        try
        {
            return (DecodeCore(source), null);
        }
        catch (RecordRejectedException ex)
        {
            return (null, new DeadLetter(source, DeadLetterStage.Decode, ex.Message));
        }
        catch (FormatException ex)
        {
            return (null, new DeadLetter(source, DeadLetterStage.Decode, $"the value is not a trulayer.pipeline.v1.SpanBatch: {ex.Message}"));
        }
        catch (InvalidProtocolBufferException ex)
        {
            return (null, new DeadLetter(source, DeadLetterStage.Decode, $"the value is not a trulayer.pipeline.v1.SpanBatch: {ex.Message}"));
        }
    }

    private DecodedRecord DecodeCore(ConsumeResult<byte[]?, byte[]?> source)
    {
        var batch = BatchEnvelope.Read(source.Message.Value, "SpanBatch");
        var (value, projectId, resourceSpans) = (batch.Value, batch.ProjectId, batch.Resources);
        var traceIdBytes = batch.TraceId;
        if (!IsValidId(traceIdBytes, 16))
        {
            throw new RecordRejectedException($"trace_id has {traceIdBytes.Length} bytes ({Convert.ToHexStringLower(traceIdBytes)}): a trace id is 16 bytes, not all zero");
        }

        batch.CheckKey(source);

        var traceId = new Guid(traceIdBytes, bigEndian: true);
        var receivedAt = UnixNanos.ToDateTime(batch.ReceivedUnixNano);
        var rows = new List<SpanRow>();
        var resources = new List<ResourceRow>();
        var scopes = new List<ScopeRow>();
        var spanIndex = 0;

        foreach (var (rsOffset, rsLength) in resourceSpans)
        {
            var resourceParts = new List<(int Offset, int Length)>();
            var scopeSpans = new List<(int Offset, int Length)>();
            (int Offset, int Length) resourceSchema = default;
            var rs = new ProtoWireReader(value, rsOffset, rsOffset + rsLength);
            while (rs.TryReadTag(out var field, out var wireType))
            {
                switch (field)
                {
                    case ResourceSpansResource when wireType == WireType.LengthDelimited:
                        resourceParts.Add(rs.ReadRange());
                        break;
                    case ResourceSpansScopeSpans when wireType == WireType.LengthDelimited:
                        scopeSpans.Add(rs.ReadRange());
                        break;
                    case ResourceSpansSchemaUrl when wireType == WireType.LengthDelimited:
                        resourceSchema = rs.ReadRange();
                        break;
                    default:
                        rs.Skip(wireType);
                        break;
                }
            }

            var resourceBytes = Join(value, resourceParts);
            var resourceId = ContentId(resourceBytes.Span, value.AsSpan(resourceSchema.Offset, resourceSchema.Length));
            var resource = cache.FindResource(projectId, resourceId);
            if (resource is null)
            {
                // Repeated occurrences of a message field merge: parsing the concatenation does exactly that.
                var parsed = Resource.Parser.ParseFrom(resourceBytes.Span);
                var serviceName = Clean(ResourceConventions.ServiceName(parsed));
                resource = cache.AddResource(projectId, resourceId, serviceName);
                resources.Add(new ResourceRow(projectId, resourceId, serviceName, Encoding.UTF8.GetString(value, resourceSchema.Offset, resourceSchema.Length),
                    AttributeJson.ToJson(parsed.Attributes), resourceBytes.ToArray()));
            }
            else if (!resource.Stored)
            {
                var parsed = Resource.Parser.ParseFrom(resourceBytes.Span);
                resources.Add(new ResourceRow(projectId, resourceId, resource.ServiceName, Encoding.UTF8.GetString(value, resourceSchema.Offset, resourceSchema.Length),
                    AttributeJson.ToJson(parsed.Attributes), resourceBytes.ToArray()));
            }

            foreach (var (ssOffset, ssLength) in scopeSpans)
            {
                var scopeParts = new List<(int Offset, int Length)>();
                var spans = new List<(int Offset, int Length)>();
                (int Offset, int Length) scopeSchema = default;
                var ss = new ProtoWireReader(value, ssOffset, ssOffset + ssLength);
                while (ss.TryReadTag(out var field, out var wireType))
                {
                    switch (field)
                    {
                        case ScopeSpansScope when wireType == WireType.LengthDelimited:
                            scopeParts.Add(ss.ReadRange());
                            break;
                        case ScopeSpansSpans when wireType == WireType.LengthDelimited:
                            spans.Add(ss.ReadRange());
                            break;
                        case ScopeSpansSchemaUrl when wireType == WireType.LengthDelimited:
                            scopeSchema = ss.ReadRange();
                            break;
                        default:
                            ss.Skip(wireType);
                            break;
                    }
                }

                var scopeBytes = Join(value, scopeParts);
                var scopeId = ContentId(scopeBytes.Span, value.AsSpan(scopeSchema.Offset, scopeSchema.Length));
                var scope = cache.FindScope(projectId, scopeId) ?? cache.AddScope(projectId, scopeId);
                if (!scope.Stored)
                {
                    var parsed = InstrumentationScope.Parser.ParseFrom(scopeBytes.Span);
                    scopes.Add(new ScopeRow(projectId, scopeId, AttributeJson.Clean(parsed.Name), AttributeJson.Clean(parsed.Version),
                        Encoding.UTF8.GetString(value, scopeSchema.Offset, scopeSchema.Length), AttributeJson.ToJson(parsed.Attributes), scopeBytes.ToArray()));
                }

                foreach (var (spanOffset, spanLength) in spans)
                {
                    var otlp = new ReadOnlyMemory<byte>(value, spanOffset, spanLength);
                    rows.Add(Map(otlp, spanIndex, projectId, batch.OrganizationId, traceId, traceIdBytes, resource.ServiceName, resourceId, scopeId, receivedAt));
                    spanIndex++;
                }
            }
        }

        return new DecodedRecord(source, rows, resources, scopes);
    }

    private SpanRow Map(
        ReadOnlyMemory<byte> otlp, int index, Guid projectId, Guid? organizationId, Guid traceId, ReadOnlySpan<byte> traceIdBytes,
        string? serviceName, Guid resourceId, Guid scopeId, DateTime receivedAt)
    {
        var bytes = otlp.Span;
        _attributes.Clear();
        var mapped = _attributes.Mapped;
        SpanFields fields;
        try
        {
            fields = SpanWire.Read(bytes, _attributes);
        }
        catch (Exception ex) when (ex is FormatException or InvalidProtocolBufferException)
        {
            throw new RecordRejectedException($"span {index} is not an OTLP Span: {ex.Message}");
        }

        var spanTraceId = bytes.Slice(fields.TraceId.Offset, fields.TraceId.Length);
        if (!spanTraceId.SequenceEqual(traceIdBytes))
        {
            throw new RecordRejectedException(
                $"span {index} belongs to trace {Convert.ToHexStringLower(spanTraceId)}, not to the record's trace {Convert.ToHexStringLower(traceIdBytes)}");
        }

        var spanId = bytes.Slice(fields.SpanId.Offset, fields.SpanId.Length);
        if (!IsValidId(spanId, 8))
        {
            throw new RecordRejectedException($"span {index} has a span_id of {spanId.Length} bytes ({Convert.ToHexStringLower(spanId)}): a span id is 8 bytes, not all zero");
        }

        var parentSpanId = bytes.Slice(fields.ParentSpanId.Offset, fields.ParentSpanId.Length);
        if (parentSpanId.Length is not (0 or 8))
        {
            throw new RecordRejectedException($"span {index} has a parent_span_id of {parentSpanId.Length} bytes: it must be empty or 8 bytes");
        }

        if (fields.StartTimeUnixNano > long.MaxValue || fields.EndTimeUnixNano > long.MaxValue)
        {
            throw new RecordRejectedException(
                $"span {index} has a start or end time past 2262-04-11 ({fields.StartTimeUnixNano}, {fields.EndTimeUnixNano} ns since 1970), which cannot be stored");
        }

        var genAi = mapped.Count == 0 ? GenAiFields.None
            : GenAiMapper.Map(mapped, maxTextBytes, new SpanWindow((long)fields.StartTimeUnixNano, (long)fields.EndTimeUnixNano));
        if (!ReferenceEquals(genAi, GenAiFields.None))
        {
            genAi = genAi with
            {
                LlmSystem = Clean(genAi.LlmSystem),
                RequestModel = Clean(genAi.RequestModel),
                ResponseModel = Clean(genAi.ResponseModel),
                InputText = Clean(genAi.InputText),
                OutputText = Clean(genAi.OutputText),
                SessionId = Clean(genAi.SessionId),
                UserId = Clean(genAi.UserId),
            };
        }

        var spanType = mapped.Count == 0 ? SpanType.Custom : SpanTypeRules.Infer(mapped);
        var (cost, costSource) = Cost(genAi, organizationId, (long)fields.StartTimeUnixNano);
        var stored = StoreContentOnce(otlp, genAi);
        return new SpanRow
        {
            ProjectId = projectId,
            TraceId = traceId,
            SpanId = BinaryPrimitives.ReadInt64BigEndian(spanId),
            ParentSpanId = parentSpanId.Length == 8 && parentSpanId.ContainsAnyExcept((byte)0) ? BinaryPrimitives.ReadInt64BigEndian(parentSpanId) : null,
            StartUnixNano = (long)fields.StartTimeUnixNano,
            EndUnixNano = (long)fields.EndTimeUnixNano,
            Name = SpanWire.String(bytes.Slice(fields.Name.Offset, fields.Name.Length)),
            Kind = (short)fields.Kind,
            StatusCode = (short)fields.StatusCode,
            StatusMessage = fields.StatusMessage.Length > 0 ? SpanWire.String(bytes.Slice(fields.StatusMessage.Offset, fields.StatusMessage.Length)) : null,
            ServiceName = serviceName,
            SpanType = spanType,
            GenAi = stored.Input is not null || stored.Output is not null
                ? genAi with { InputText = stored.Input?.Text ?? genAi.InputText, OutputText = stored.Output?.Text ?? genAi.OutputText }
                : genAi,
            InputForm = stored.Input?.Form,
            OutputForm = stored.Output?.Form,
            CostMicros = cost,
            CostSource = costSource,
            AttributeHashes = [.. _attributes.Hashes],
            ResourceId = resourceId,
            ScopeId = scopeId,
            Otlp = stored.Otlp,
            SpanSize = stored.Input is null && stored.Output is null ? null : otlp.Length,
            InputAt = stored.Input?.At,
            OutputAt = stored.Output?.At,
            ReceivedAt = receivedAt,
        };
    }

    /// <summary>
    /// The reported cost when the span has one; else the cost of its tokens at the price in force when it
    /// started, of the response model (the one that answered and billed) or else the request model. The
    /// organization's own price for the model (<see cref="PriceOverrides"/>) comes before the repository's.
    /// </summary>
    private (long? Micros, CostSource Source) Cost(GenAiFields genAi, Guid? organizationId, long startUnixNano)
    {
        if (genAi.CostMicros is { } reported)
        {
            return (reported, CostSource.Reported);
        }

        if (genAi.InputTokens is null && genAi.OutputTokens is null)
        {
            return (null, CostSource.None);
        }

        foreach (var model in (ReadOnlySpan<string?>)[genAi.ResponseModel, genAi.RequestModel])
        {
            if (model is not null && overrides?.Find(organizationId, model) is { } own)
            {
                return own.Price.CostMicros(genAi.InputTokens, genAi.OutputTokens, genAi.CacheReadTokens, genAi.CacheCreationTokens, genAi.ReasoningTokens) is { } priced
                    ? (priced, CostSource.Computed)
                    : (null, CostSource.None);
            }

            if (model is not null && _prices.Find(genAi.LlmSystem, model, UnixNanos.ToDateTime(startUnixNano)) is { } found
                && found.Price.CostMicros(genAi.InputTokens, genAi.OutputTokens, genAi.CacheReadTokens, genAi.CacheCreationTokens, genAi.ReasoningTokens) is { } computed)
            {
                return (computed, CostSource.Computed);
            }
        }

        return (null, CostSource.None);
    }

    /// <summary>
    /// The span's bytes to store: as they arrived, or, when the input or output text is normalized from one
    /// string attribute alone (<see cref="GenAiContentSource"/>) whose field is exact (<see cref="ContentSplice.IsExact"/>),
    /// with that attribute's value cut out (<see cref="ContentSplice"/>), since the row then holds the value,
    /// verbatim, in input_text or output_text, and the attribute's key in input_form or output_form when the
    /// value is not the normalized form itself; with where each placeholder sits.
    /// </summary>
    private (ReadOnlyMemory<byte> Otlp, StoredContent? Input, StoredContent? Output) StoreContentOnce(ReadOnlyMemory<byte> otlp, GenAiFields genAi)
    {
        var span = otlp.Span;
        var input = FindContent(span, genAi.InputSource);
        // One attribute can fill both (pydantic-ai's events): it is cut out once, for the input.
        var output = genAi.OutputSource?.Index == genAi.InputSource?.Index && input is not null ? null : FindContent(span, genAi.OutputSource);
        if (input is null && output is null)
        {
            return (otlp, null, null);
        }

        // Cut in the order the attributes come.
        var (first, second) = input is { } i && output is { } o && o.Start < i.Start ? (output, input) : (input, output);
        var size = span.Length;
        foreach (var cut in (ReadOnlySpan<Cut?>)[first, second])
        {
            size += cut is { } c ? ContentSplice.PlaceholderSize(c.Key.Length) - (c.End - c.Start) : 0;
        }

        var stored = new byte[size];
        int written = 0, position = 0;
        StoredContent? storedInput = null, storedOutput = null;
        foreach (var cut in (ReadOnlySpan<Cut?>)[first, second])
        {
            if (cut is not { } c)
            {
                continue;
            }

            span[position..c.Start].CopyTo(stored.AsSpan(written));
            written += c.Start - position;
            if (c.Start == input?.Start)
            {
                storedInput = new StoredContent(written, c.Text, c.Form);
            }
            else
            {
                storedOutput = new StoredContent(written, c.Text, c.Form);
            }

            written += ContentSplice.WritePlaceholder(stored.AsSpan(written), span.Slice(c.Key.Offset, c.Key.Length));
            position = c.End;
        }

        span[position..].CopyTo(stored.AsSpan(written));
        return (stored, storedInput, storedOutput);
    }

    /// <summary>
    /// The attribute field <paramref name="source"/> names when it can be cut out exactly: written as
    /// <see cref="ContentSplice.WriteField"/> writes it, and its text storable as it is (PostgreSQL text holds no NUL).
    /// </summary>
    private Cut? FindContent(ReadOnlySpan<byte> span, GenAiContentSource? source)
    {
        if (source is not { } s)
        {
            return null;
        }

        var text = _attributes.Mapped[s.Index].Value.StringValue;
        var (start, end) = _attributes.MappedFields[s.Index];
        if (text.Contains('\0', StringComparison.Ordinal) || end == 0 || !ContentSplice.IsExact(span[start..end], out var key, out _))
        {
            return null;
        }

        return new Cut(start, end, (start + key.Offset, key.Length), text, s.Form);
    }

    /// <summary>A content attribute to cut out: its field in the span, its key's place in the span, its text and form.</summary>
    private readonly record struct Cut(int Start, int End, (int Offset, int Length) Key, string Text, string? Form);

    /// <summary>Content cut out of the stored span: its placeholder's place, the text that goes back there, its form (null: normalized).</summary>
    private readonly record struct StoredContent(int At, string Text, string? Form);

    /// <summary>
    /// A resource's or scope's id: the first 16 bytes of SHA-256 over the message bytes (length-prefixed)
    /// and the schema URL that came with it.
    /// </summary>
    internal static Guid ContentId(ReadOnlySpan<byte> message, ReadOnlySpan<byte> schemaUrl)
    {
        var length = 4 + message.Length + schemaUrl.Length;
        var rented = length <= 1024 ? null : ArrayPool<byte>.Shared.Rent(length);
        var buffer = rented is null ? stackalloc byte[length] : rented.AsSpan(0, length);
        try
        {
            BinaryPrimitives.WriteInt32BigEndian(buffer, message.Length);
            message.CopyTo(buffer[4..]);
            schemaUrl.CopyTo(buffer[(4 + message.Length)..]);
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(buffer, hash);
            return new Guid(hash[..16], bigEndian: true);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static ReadOnlyMemory<byte> Join(byte[] value, List<(int Offset, int Length)> parts) => parts.Count switch
    {
        0 => ReadOnlyMemory<byte>.Empty,
        1 => new ReadOnlyMemory<byte>(value, parts[0].Offset, parts[0].Length),
        _ => parts.SelectMany(p => value.Skip(p.Offset).Take(p.Length)).ToArray(),
    };

    private static bool IsValidId(ReadOnlySpan<byte> id, int length) => id.Length == length && id.ContainsAnyExcept((byte)0);

    private static string? Clean(string? text) => text is null ? null : AttributeJson.Clean(text);

}
