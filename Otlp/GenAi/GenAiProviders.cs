using System.Collections.Frozen;

namespace Trulayer.Otlp.GenAi;

/// <summary>Provider names as the libraries spell them, mapped to the semconv well-known <c>gen_ai.provider.name</c> values.</summary>
public static class GenAiProviders
{
    private static readonly FrozenDictionary<string, string> Aliases = new Dictionary<string, string>
    {
        ["openai"] = "openai",
        ["anthropic"] = "anthropic",
        ["azure"] = "azure.ai.openai",
        ["azure.ai.openai"] = "azure.ai.openai",
        ["az.ai.openai"] = "azure.ai.openai",
        ["azure_openai"] = "azure.ai.openai",
        ["azure.ai.inference"] = "azure.ai.inference",
        ["az.ai.inference"] = "azure.ai.inference",
        ["aws.bedrock"] = "aws.bedrock",
        ["bedrock"] = "aws.bedrock",
        ["amazon-bedrock"] = "aws.bedrock",
        ["aws_bedrock"] = "aws.bedrock",
        ["gcp.vertex_ai"] = "gcp.vertex_ai",
        ["vertex_ai"] = "gcp.vertex_ai",
        ["vertexai"] = "gcp.vertex_ai",
        ["google.vertex"] = "gcp.vertex_ai",
        ["google-vertex"] = "gcp.vertex_ai",
        ["gcp.gemini"] = "gcp.gemini",
        ["gemini"] = "gcp.gemini",
        ["google"] = "gcp.gemini",
        ["google.generative-ai"] = "gcp.gemini",
        ["google-gla"] = "gcp.gemini",
        ["gcp.gen_ai"] = "gcp.gen_ai",
        ["cohere"] = "cohere",
        ["deepseek"] = "deepseek",
        ["groq"] = "groq",
        ["ibm.watsonx.ai"] = "ibm.watsonx.ai",
        ["watsonx"] = "ibm.watsonx.ai",
        ["mistral_ai"] = "mistral_ai",
        ["mistral"] = "mistral_ai",
        ["mistralai"] = "mistral_ai",
        ["perplexity"] = "perplexity",
        ["x_ai"] = "x_ai",
        ["xai"] = "x_ai",
        ["x-ai"] = "x_ai",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The well-known name for <paramref name="provider"/>: looked up whole, then without its trailing
    /// dotted parts (the AI SDK's <c>openai.chat</c> or <c>google.vertex.chat</c>); a name none of them
    /// matches is kept as sent, lower-cased.
    /// </summary>
    public static string Normalize(string provider)
    {
        var name = provider.Trim();
        while (true)
        {
            if (Aliases.TryGetValue(name, out var known))
            {
                return known;
            }

            var dot = name.LastIndexOf('.');
            if (dot <= 0)
            {
                return provider.Trim().ToLowerInvariant();
            }

            name = name[..dot];
        }
    }
}
