using Trulayer.Processor.Pricing;

namespace Trulayer.Processor.Tests;

public sealed class ModelPriceTableTests
{
    private static readonly DateTime Now = new(2025, 6, 1, 0, 0, 0, DateTimeKind.Utc);

    [Theory]
    // provider (semconv), model as a span reports it, the table's model, input and output USD per million tokens
    [InlineData("openai", "gpt-4o-2024-08-06", "gpt-4o", 2.5, 10)]
    [InlineData("openai", "gpt-4o-mini", "gpt-4o-mini", 0.15, 0.6)]
    [InlineData("anthropic", "claude-3-5-sonnet-20241022", "claude-3-5-sonnet", 3, 15)]
    [InlineData("gcp.vertex_ai", "gemini-1.5-pro-002", "gemini-1.5-pro", 1.25, 5)]
    [InlineData("gcp.gemini", "gemini-2.0-flash", "gemini-2.0-flash", 0.1, 0.4)]
    [InlineData("aws.bedrock", "anthropic.claude-3-haiku-20240307-v1:0", "regional.anthropic.claude-3-haiku-20240307-v1:0", 0.25, 1.25)]
    [InlineData("azure.ai.openai", "gpt-4o", "gpt-4o", 2.5, 10)]
    [InlineData("mistral_ai", "mistral-large-latest", "mistral-large", 2, 6)]
    [InlineData("x_ai", "grok-2", "grok-2-1212", 2, 10)]
    [InlineData("deepseek", "deepseek-chat", "deepseek-chat", 0.135, 0.55)]
    [InlineData("groq", "llama-3.1-8b-instant", "llama-3.1-8b-instant", 0.05, 0.08)]
    [InlineData("cohere", "command-r", "command-r", 0.15, 0.6)]
    [InlineData(null, "openai/gpt-4o", "gpt-4o", 2.5, 10)]
    public void Find_EachProvidersModel_HasItsPrices(string? provider, string model, string tableModel, double input, double output)
    {
        var (id, price) = ModelPriceTable.Default.Find(provider, model, Now)!.Value;

        Assert.Equal((tableModel, (decimal)input, (decimal)output), (id, price.Input!.Value, price.Output!.Value));
    }

    [Fact]
    public void Find_UnknownModel_IsNull() => Assert.Null(ModelPriceTable.Default.Find("openai", "my-finetune-xyz-123", Now));

    [Fact]
    public void Find_APriceChange_AppliesFromItsDate()
    {
        var before = ModelPriceTable.Default.Find("aws.bedrock", "openai.gpt-5.6-luna", new DateTime(2026, 7, 29, 0, 0, 0, DateTimeKind.Utc))!.Value.Price;
        var after = ModelPriceTable.Default.Find("aws.bedrock", "openai.gpt-5.6-luna", new DateTime(2026, 7, 30, 0, 0, 0, DateTimeKind.Utc))!.Value.Price;

        Assert.Equal((1.1m, 0.22m), (before.Input!.Value, after.Input!.Value));
    }

    [Fact]
    public void CostMicros_CachedTokensAtTheCachePrices()
    {
        // claude-3-5-sonnet: input 3, output 15, cache read 0.3, cache write 3.75 USD per million tokens.
        var price = ModelPriceTable.Default.Find("anthropic", "claude-3-5-sonnet-20241022", Now)!.Value.Price;

        // 1000 input tokens of which 600 read from the cache and 100 written to it; 200 output tokens.
        // 300 * 3 + 600 * 0.3 + 100 * 3.75 + 200 * 15 = 900 + 180 + 375 + 3000 micro-USD.
        Assert.Equal(4_455L, price.CostMicros(1000, 200, 600, 100, null));
    }

    [Fact]
    public void CostMicros_NoTokens_IsNull()
        => Assert.Null(new ModelPrice(null, 1, 1, null, null, null).CostMicros(null, null, 5, null, null));

    [Fact]
    public void CostMicros_ReasoningAtItsOwnPriceOnlyWhenTheModelHasOne()
    {
        Assert.Equal(100L * 10, new ModelPrice(null, 1, 10, null, null, null).CostMicros(0, 100, null, null, 40));
        Assert.Equal(60L * 10 + 40 * 20, new ModelPrice(null, 1, 10, null, null, 20).CostMicros(0, 100, null, null, 40));
    }

    [Fact]
    public void Default_RecordsTheVersionItCameFrom() => Assert.StartsWith("npm @pydantic/genai-prices@", ModelPriceTable.Default.Source, StringComparison.Ordinal);
}
