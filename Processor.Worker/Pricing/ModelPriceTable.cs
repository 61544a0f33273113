using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Trulayer.Processor.Pricing;

/// <summary>Prices per million tokens in USD, in force from <see cref="From"/> (null: from the beginning).</summary>
internal sealed record ModelPrice(DateTime? From, decimal? Input, decimal? Output, decimal? CacheRead, decimal? CacheWrite, decimal? Reasoning)
{
    /// <summary>
    /// The cost of a call in micro-USD. Input tokens include the cached ones (semconv counts them in
    /// gen_ai.usage.input_tokens), which are priced at the cache prices when the model has them; reasoning
    /// tokens are part of the output tokens, priced apart only when the model has a reasoning price.
    /// Null when the call used no tokens this price covers.
    /// </summary>
    public long? CostMicros(long? input, long? output, long? cacheRead, long? cacheWrite, long? reasoning)
    {
        if (input is null && output is null)
        {
            return null;
        }

        decimal read = cacheRead ?? 0, write = cacheWrite ?? 0, inTokens = input ?? 0, outTokens = output ?? 0;
        var uncached = Math.Max(0, inTokens - read - write);
        var thinking = Reasoning is null ? 0 : Math.Min(reasoning ?? 0, outTokens);

        // Tokens times USD per million tokens is micro-USD.
        var micros = uncached * (Input ?? 0)
                     + read * (CacheRead ?? Input ?? 0)
                     + write * (CacheWrite ?? Input ?? 0)
                     + (outTokens - thinking) * (Output ?? 0)
                     + thinking * (Reasoning ?? 0);
        return micros >= long.MaxValue ? long.MaxValue : (long)Math.Round(micros, MidpointRounding.AwayFromZero);
    }
}

/// <summary>
/// The model price table of the repository (Pricing/model-prices.json, derived from the npm package
/// @pydantic/genai-prices by scripts/refresh-model-prices.mjs): for a provider and a model name as a span
/// reports them, the prices in force at a time. A model is found by its match rule (so
/// <c>gpt-4o-2024-08-06</c> finds <c>gpt-4o</c>); the provider's models first, then every provider's.
/// Lookups are cached per (provider, model). Thread-safe.
/// </summary>
internal sealed class ModelPriceTable
{
    private const string ResourceName = "Trulayer.Processor.Pricing.model-prices.json";
    private const int MaxCached = 10_000;

    /// <summary>The semconv provider names and the genai-prices provider ids that price them.</summary>
    private static readonly FrozenDictionary<string, string> ProviderIds = new Dictionary<string, string>
    {
        ["openai"] = "openai",
        ["anthropic"] = "anthropic",
        ["gcp.gemini"] = "google",
        ["gcp.vertex_ai"] = "google",
        ["gcp.gen_ai"] = "google",
        ["aws.bedrock"] = "aws",
        ["azure.ai.openai"] = "azure",
        ["azure.ai.inference"] = "azure",
        ["mistral_ai"] = "mistral",
        ["x_ai"] = "x-ai",
        ["groq"] = "groq",
        ["deepseek"] = "deepseek",
        ["cohere"] = "cohere",
        ["perplexity"] = "perplexity",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly Lazy<ModelPriceTable> Seeded = new(Load);

    private readonly List<Provider> _providers;
    private readonly ConcurrentDictionary<(string? Provider, string Model), Model?> _found = new();

    private ModelPriceTable(string source, List<Provider> providers)
    {
        Source = source;
        _providers = providers;
    }

    /// <summary>The table shipped with the processor.</summary>
    public static ModelPriceTable Default => Seeded.Value;

    /// <summary>Where the table came from, e.g. <c>npm @pydantic/genai-prices@0.1.8</c>.</summary>
    public string Source { get; }

    /// <summary>The genai-prices model id and the price in force at <paramref name="at"/>; null when the table has no such model.</summary>
    public (string ModelId, ModelPrice Price)? Find(string? provider, string model, DateTime at)
    {
        // Model names come from clients: past a bound, new names are matched each time rather than kept.
        var found = _found.TryGetValue((provider, model), out var cached) ? cached
            : _found.Count < MaxCached ? _found.GetOrAdd((provider, model), key => Match(key.Provider, key.Model))
            : Match(provider, model);
        if (found is null)
        {
            return null;
        }

        // Prices are sorted by their start; the last one started by then is in force (the first if none has).
        var price = found.Prices[0];
        foreach (var candidate in found.Prices)
        {
            if (candidate.From is not { } from || from <= at)
            {
                price = candidate;
            }
        }

        return (found.Id, price);
    }

    /// <summary>Every model of the table with the price in force at <paramref name="at"/>, providers in lookup order.</summary>
    public IEnumerable<(string Provider, string ModelId, ModelPrice Price)> Entries(DateTime at)
    {
        foreach (var provider in _providers)
        {
            foreach (var model in provider.Models)
            {
                yield return (provider.Id, model.Id, model.Prices.LastOrDefault(p => p.From is not { } from || from <= at) ?? model.Prices[0]);
            }
        }
    }

    private Model? Match(string? provider, string model)
    {
        var name = model.Trim().ToLowerInvariant();
        if (provider is not null && ProviderIds.TryGetValue(provider, out var id))
        {
            foreach (var p in _providers)
            {
                if (p.Id == id && p.Models.FirstOrDefault(m => m.Match.IsMatch(name)) is { } own)
                {
                    return own;
                }
            }
        }

        // A model sent with a provider prefix ("openai/gpt-4o") is found by its own name too.
        var slash = name.LastIndexOf('/');
        var bare = slash >= 0 ? name[(slash + 1)..] : name;
        foreach (var p in _providers)
        {
            if (p.Models.FirstOrDefault(m => m.Match.IsMatch(name) || m.Match.IsMatch(bare)) is { } any)
            {
                return any;
            }
        }

        return null;
    }

    private static ModelPriceTable Load()
    {
        using var stream = typeof(ModelPriceTable).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing.");
        return Parse(stream);
    }

    internal static ModelPriceTable Parse(Stream json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var providers = new List<Provider>();
        foreach (var provider in root.GetProperty("providers").EnumerateArray())
        {
            var models = new List<Model>();
            foreach (var model in provider.GetProperty("models").EnumerateArray())
            {
                var prices = model.GetProperty("prices").EnumerateArray().Select(p => new ModelPrice(
                    p.GetProperty("from").ValueKind == JsonValueKind.String ? DateTime.SpecifyKind(p.GetProperty("from").GetDateTime(), DateTimeKind.Utc) : null,
                    Number(p, "input"), Number(p, "output"), Number(p, "cacheRead"), Number(p, "cacheWrite"), Number(p, "reasoning"))).ToList();
                if (prices.Count > 0)
                {
                    models.Add(new Model(model.GetProperty("id").GetString()!, MatchRule.Parse(model.GetProperty("match")), prices));
                }
            }

            providers.Add(new Provider(provider.GetProperty("id").GetString()!, models));
        }

        // Aggregators resell every vendor's models under the vendor's names: the vendors' own prices come first.
        providers.Sort((a, b) => IsAggregator(a.Id).CompareTo(IsAggregator(b.Id)));
        return new ModelPriceTable(root.GetProperty("source").GetString()!, providers);
    }

    private static bool IsAggregator(string id) => id is "openrouter" or "together" or "fireworks" or "novita" or "github-copilot" or "cursor" or "modal"
        || id.StartsWith("huggingface", StringComparison.Ordinal);

    private static decimal? Number(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDecimal() : null;

    private sealed record Provider(string Id, List<Model> Models);

    private sealed record Model(string Id, MatchRule Match, List<ModelPrice> Prices);
}

/// <summary>A genai-prices match rule over a lower-cased model name: equals, starts_with, ends_with, contains, regex, or, and.</summary>
internal abstract record MatchRule
{
    public abstract bool IsMatch(string name);

    public static MatchRule Parse(JsonElement rule)
    {
        var property = rule.EnumerateObject().First();
        return property.Name switch
        {
            "equals" => new Text(property.Value.GetString()!.ToLowerInvariant(), (n, t) => n == t),
            "starts_with" => new Text(property.Value.GetString()!.ToLowerInvariant(), (n, t) => n.StartsWith(t, StringComparison.Ordinal)),
            "ends_with" => new Text(property.Value.GetString()!.ToLowerInvariant(), (n, t) => n.EndsWith(t, StringComparison.Ordinal)),
            "contains" => new Text(property.Value.GetString()!.ToLowerInvariant(), (n, t) => n.Contains(t, StringComparison.Ordinal)),
            "regex" => new Pattern(new Regex(property.Value.GetString()!, RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, TimeSpan.FromMilliseconds(50))),
            "or" => new Any([.. property.Value.EnumerateArray().Select(Parse)]),
            "and" => new All([.. property.Value.EnumerateArray().Select(Parse)]),
            _ => throw new FormatException($"unknown match rule '{property.Name}'"),
        };
    }

    private sealed record Text(string Value, Func<string, string, bool> Test) : MatchRule
    {
        public override bool IsMatch(string name) => Test(name, Value);
    }

    private sealed record Pattern(Regex Regex) : MatchRule
    {
        public override bool IsMatch(string name)
        {
            try
            {
                return Regex.IsMatch(name);
            }
            catch (RegexMatchTimeoutException)
            {
                return false;
            }
        }
    }

    private sealed record Any(MatchRule[] Rules) : MatchRule
    {
        public override bool IsMatch(string name) => Rules.Any(r => r.IsMatch(name));
    }

    private sealed record All(MatchRule[] Rules) : MatchRule
    {
        public override bool IsMatch(string name) => Rules.All(r => r.IsMatch(name));
    }
}
