using System.Text;
using System.Text.Json;
using Google.Protobuf;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace Trulayer.Load.Seed;

/// <summary>
/// Traces the way a production LLM application makes them, for the query benchmarks: sessions of a few
/// turns (traces) by one of a thousand users; each turn an agent span over an embedding call, a retrieval,
/// one to three chat calls of one of a dozen models of four providers (with a tool call between them), and
/// about 2 % of model calls failing; prompts and completions of varied words. Times are spread evenly
/// over the window. Deterministic for a given seed.
/// </summary>
internal sealed class SeedTraces(int seed, DateTimeOffset from, DateTimeOffset to, int users = 1000)
{
    private sealed record Model(string Provider, string Name, bool Embedding, double MedianSeconds);

    private static readonly Model[] ChatModels =
    [
        new("openai", "gpt-4o", false, 1.8), new("openai", "gpt-4o-mini", false, 0.9), new("openai", "gpt-4.1", false, 2.2),
        new("anthropic", "claude-3-5-sonnet", false, 2.4), new("anthropic", "claude-3-5-haiku-latest", false, 1.1), new("anthropic", "claude-sonnet-4-5", false, 2.9),
        new("gcp.vertex_ai", "gemini-1.5-pro", false, 2.0), new("gcp.vertex_ai", "gemini-2.0-flash", false, 0.8),
        new("aws.bedrock", "meta.llama3-70b-instruct-v1:0", false, 1.6),
    ];

    private static readonly Model[] EmbeddingModels =
    [
        new("openai", "text-embedding-3-small", true, 0.12), new("gcp.vertex_ai", "gemini-embedding-001", true, 0.15),
        new("aws.bedrock", "amazon.titan-embed-text-v1", true, 0.2),
    ];

    private static readonly string[] Services = ["support-bot", "search-assistant", "code-helper"];

    private static readonly string[] Words = (
        "account billing invoice refund password reset login error timeout deploy cluster node pod memory cpu latency " +
        "query index table schema migration backup restore replica region zone network firewall certificate token key " +
        "customer order shipping delivery address payment card subscription plan upgrade downgrade cancel trial discount " +
        "report dashboard chart metric alert threshold incident outage status page release version changelog feature bug " +
        "python csharp javascript rust golang java function method class interface module package library dependency " +
        "summarize explain translate compare list describe suggest fix refactor optimize document test review " +
        "weather paris london tokyo berlin madrid rome lisbon vienna prague oslo stockholm helsinki dublin " +
        "the a an of to in for on with from by about into over after before under between through during without " +
        "please could would should might must can will may quickly carefully briefly exactly roughly simply clearly " +
        "thanks hello sorry yes no maybe sure great good bad better worse best worst new old large small fast slow").Split(' ');

    private readonly Random _random = new(seed);
    private readonly long _fromNanos = from.ToUnixTimeMilliseconds() * 1_000_000;
    private readonly long _spanNanos = (to - from).Ticks * 100;
    private readonly Dictionary<string, Resource> _resources = Services.ToDictionary(s => s, s => new Resource
    {
        Attributes =
        {
            Str("service.name", s), Str("service.version", "2.3." + s.Length), Str("deployment.environment", "production"),
            Str("telemetry.sdk.language", "python"),
        },
    });

    private static readonly InstrumentationScope Scope = new() { Name = "opentelemetry.instrumentation.openai_v2", Version = "2.1b0" };

    /// <summary>One session: 1 to 5 traces, a minute or two apart, each a list of spans under its resource.</summary>
    public IEnumerable<(ByteString TraceId, ResourceSpans Spans)> NextSession()
    {
        var user = "user-" + _random.Next(users).ToString("D4", System.Globalization.CultureInfo.InvariantCulture);
        var session = Convert.ToHexStringLower(Bytes(8).Span);
        var service = Services[_random.Next(Services.Length)];
        var start = _fromNanos + (long)(_random.NextDouble() * Math.Max(1, _spanNanos - 600_000_000_000L));
        var turns = 1 + _random.Next(5);
        for (var turn = 0; turn < turns; turn++)
        {
            yield return Trace(service, user, session, start);
            start += (long)((30 + _random.NextDouble() * 90) * 1e9);
        }
    }

    private (ByteString, ResourceSpans) Trace(string service, string user, string session, long start)
    {
        var traceId = Bytes(16);
        var spans = new List<Span>();
        var root = NewSpan(traceId, null, "invoke_agent assistant", start, Str("gen_ai.operation.name", "invoke_agent"),
            Str("session.id", session), Str("user.id", user), Str("gen_ai.agent.name", "assistant"));
        spans.Add(root);
        var at = start + Millis(5, 30);

        var embedding = EmbeddingModels[_random.Next(EmbeddingModels.Length)];
        var question = Sentence(8, 60);
        spans.Add(ModelCall(traceId, root.SpanId, embedding, at, user, question, null, out var ended));
        at = ended;
        var retrieval = NewSpan(traceId, root.SpanId, "vector search", at, Str("db.system", "postgresql"), Str("db.operation.name", "SELECT"));
        retrieval.EndTimeUnixNano = (ulong)(at + Millis(8, 120));
        spans.Add(retrieval);
        at = (long)retrieval.EndTimeUnixNano;

        var chat = ChatModels[_random.Next(ChatModels.Length)];
        var calls = 1 + _random.Next(3);
        for (var i = 0; i < calls; i++)
        {
            spans.Add(ModelCall(traceId, root.SpanId, chat, at, user, question + " " + Sentence(20, 400), Sentence(15, 300), out ended));
            at = ended;
            if (i < calls - 1)
            {
                var tool = NewSpan(traceId, root.SpanId, "execute_tool lookup", at, Str("gen_ai.operation.name", "execute_tool"), Str("gen_ai.tool.name", "lookup"));
                tool.EndTimeUnixNano = (ulong)(at + Millis(20, 400));
                spans.Add(tool);
                at = (long)tool.EndTimeUnixNano;
            }
        }

        root.EndTimeUnixNano = (ulong)(at + Millis(1, 10));
        return (traceId, new ResourceSpans { Resource = _resources[service], ScopeSpans = { new ScopeSpans { Scope = Scope, Spans = { spans } } } });
    }

    private Span ModelCall(ByteString traceId, ByteString parent, Model model, long start, string user, string prompt, string? completion, out long end)
    {
        var inputTokens = prompt.Length / 4 + 20;
        var span = NewSpan(traceId, parent, (model.Embedding ? "embeddings " : "chat ") + model.Name, start,
            Str("gen_ai.operation.name", model.Embedding ? "embeddings" : "chat"), Str("gen_ai.provider.name", model.Provider),
            Str("gen_ai.request.model", model.Name), Str("gen_ai.response.model", model.Name), Int("gen_ai.usage.input_tokens", inputTokens),
            Str("user.id", user), Str("server.address", model.Provider + ".example"));
        var seconds = model.MedianSeconds * Math.Exp(0.6 * Gaussian());
        if (completion is not null)
        {
            span.Attributes.Add(Int("gen_ai.usage.output_tokens", completion.Length / 4 + 5));
            if (_random.Next(4) == 0)
            {
                span.Attributes.Add(Int("gen_ai.usage.cache_read.input_tokens", inputTokens / 2));
            }

            span.Attributes.Add(Str("gen_ai.input.messages", Messages("user", prompt)));
            span.Attributes.Add(Str("gen_ai.output.messages", Messages("assistant", completion)));
            seconds += completion.Length / 4 * 0.01;
            if (_random.Next(3) != 0)
            {
                // Two chat calls in three stream: the first chunk after about a third of the model's median time to answer
                // (semconv 1.41's gen_ai.response.time_to_first_chunk, seconds), always within the call.
                var firstChunk = Math.Min(seconds * 0.9, model.MedianSeconds * 0.35 * Math.Exp(0.4 * Gaussian()));
                span.Attributes.Add(Dbl("gen_ai.response.time_to_first_chunk", firstChunk));
            }
        }

        if (_random.Next(50) == 0)
        {
            span.Status = new Status { Code = Status.Types.StatusCode.Error, Message = _random.Next(2) == 0 ? "429 rate limited" : "upstream timeout" };
        }

        end = start + (long)(seconds * 1e9);
        span.EndTimeUnixNano = (ulong)end;
        return span;
    }

    private Span NewSpan(ByteString traceId, ByteString? parent, string name, long start, params KeyValue[] attributes) => new()
    {
        TraceId = traceId,
        SpanId = Bytes(8),
        ParentSpanId = parent ?? ByteString.Empty,
        Name = name,
        Kind = Span.Types.SpanKind.Client,
        StartTimeUnixNano = (ulong)start,
        EndTimeUnixNano = (ulong)start,
        Attributes = { attributes },
    };

    private static string Messages(string role, string text)
        => JsonSerializer.Serialize(new[] { new { role, parts = new[] { new { type = "text", content = text } } } });

    private string Sentence(int minWords, int maxWords)
    {
        var count = minWords + _random.Next(maxWords - minWords);
        var text = new StringBuilder(count * 7);
        for (var i = 0; i < count; i++)
        {
            text.Append(i == 0 ? "" : i % 12 == 0 ? ". " : " ").Append(Words[_random.Next(Words.Length)]);
        }

        return text.Append('.').ToString();
    }

    private long Millis(int min, int max) => (long)((min + _random.NextDouble() * (max - min)) * 1e6);

    private double Gaussian() => Math.Sqrt(-2 * Math.Log(1 - _random.NextDouble())) * Math.Cos(2 * Math.PI * _random.NextDouble());

    private ByteString Bytes(int length)
    {
        var bytes = new byte[length];
        _random.NextBytes(bytes);
        bytes[0] |= 1;
        return ByteString.CopyFrom(bytes);
    }

    private static KeyValue Str(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    private static KeyValue Int(string key, long value) => new() { Key = key, Value = new AnyValue { IntValue = value } };

    private static KeyValue Dbl(string key, double value) => new() { Key = key, Value = new AnyValue { DoubleValue = value } };
}
