using OpenTelemetry.Proto.Common.V1;
using Trulayer.Otlp.GenAi;

namespace Trulayer.Otlp.Tests.GenAi;

/// <summary>
/// For every row of <see cref="GenAiPrecedence.Table"/>, the attributes its convention writes (taken from that
/// convention's own specification or documentation) and what the row makes of them.
/// </summary>
internal static class ConventionFixtures
{
    public sealed record Fixture(KeyValue[] Attributes, object Expected);

    /// <summary>The span every fixture is mapped for: 2025-01-01T00:00:00Z, ten seconds long.</summary>
    public static SpanWindow Window { get; } = new(1_735_689_600_000_000_000, 1_735_689_610_000_000_000);

    /// <summary>The stored form of messages: semconv 1.37's role and parts (text parts only here).</summary>
    public static string Messages(params (string Role, string Text)[] messages)
        => "[" + string.Join(",", messages.Select(m => $$"""{"role":"{{m.Role}}","parts":[{"type":"text","content":{{Quoted(m.Text)}}}]}""")) + "]";

    private static string Quoted(string text)
        => System.Text.Json.JsonSerializer.Serialize(text, new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    public static IReadOnlyDictionary<(GenAiField, string), Fixture> All { get; } = new Dictionary<(GenAiField, string), Fixture>
    {
        // Providers: semconv well-known names whatever the spelling.
        [(GenAiField.LlmSystem, "gen_ai.provider.name")] = new([Str("gen_ai.provider.name", "gcp.vertex_ai")], "gcp.vertex_ai"),
        [(GenAiField.LlmSystem, "gen_ai.system")] = new([Str("gen_ai.system", "Anthropic")], "anthropic"),
        [(GenAiField.LlmSystem, "llm.provider")] = new([Str("llm.provider", "azure")], "azure.ai.openai"),
        [(GenAiField.LlmSystem, "llm.system")] = new([Str("llm.system", "vertexai")], "gcp.vertex_ai"),
        [(GenAiField.LlmSystem, "ai.model.provider")] = new([Str("ai.model.provider", "openai.chat")], "openai"),

        [(GenAiField.RequestModel, "gen_ai.request.model")] = new([Str("gen_ai.request.model", "gpt-4o")], "gpt-4o"),
        [(GenAiField.RequestModel, "ai.model.id")] = new([Str("ai.model.id", "gpt-4o-mini")], "gpt-4o-mini"),
        [(GenAiField.RequestModel, "langfuse.observation.model.name")] = new([Str("langfuse.observation.model.name", "claude-sonnet-4")], "claude-sonnet-4"),
        [(GenAiField.RequestModel, "llm.request.model")] = new([Str("llm.request.model", "gpt-3.5-turbo")], "gpt-3.5-turbo"),

        [(GenAiField.ResponseModel, "gen_ai.response.model")] = new([Str("gen_ai.response.model", "gpt-4o-2024-08-06")], "gpt-4o-2024-08-06"),
        [(GenAiField.ResponseModel, "ai.response.model")] = new([Str("ai.response.model", "gpt-4o-mini-2024-07-18")], "gpt-4o-mini-2024-07-18"),
        [(GenAiField.ResponseModel, "llm.model_name")] = new([Str("llm.model_name", "gpt-4o-2024-11-20")], "gpt-4o-2024-11-20"),
        [(GenAiField.ResponseModel, "llm.response.model")] = new([Str("llm.response.model", "gpt-3.5-turbo-0125")], "gpt-3.5-turbo-0125"),

        [(GenAiField.InputTokens, "gen_ai.usage.input_tokens")] = new([Int("gen_ai.usage.input_tokens", 100)], 100L),
        [(GenAiField.InputTokens, "gen_ai.usage.prompt_tokens")] = new([Int("gen_ai.usage.prompt_tokens", 101)], 101L),
        [(GenAiField.InputTokens, "llm.token_count.prompt")] = new([Int("llm.token_count.prompt", 102)], 102L),
        [(GenAiField.InputTokens, "ai.usage.inputTokens")] = new([Int("ai.usage.inputTokens", 103)], 103L),
        [(GenAiField.InputTokens, "ai.usage.promptTokens")] = new([Int("ai.usage.promptTokens", 104)], 104L),

        [(GenAiField.OutputTokens, "gen_ai.usage.output_tokens")] = new([Int("gen_ai.usage.output_tokens", 50)], 50L),
        [(GenAiField.OutputTokens, "gen_ai.usage.completion_tokens")] = new([Int("gen_ai.usage.completion_tokens", 51)], 51L),
        [(GenAiField.OutputTokens, "llm.token_count.completion")] = new([Int("llm.token_count.completion", 52)], 52L),
        [(GenAiField.OutputTokens, "ai.usage.outputTokens")] = new([Int("ai.usage.outputTokens", 53)], 53L),
        [(GenAiField.OutputTokens, "ai.usage.completionTokens")] = new([Int("ai.usage.completionTokens", 54)], 54L),

        [(GenAiField.CacheReadTokens, "gen_ai.usage.cache_read.input_tokens")] = new([Int("gen_ai.usage.cache_read.input_tokens", 20)], 20L),
        [(GenAiField.CacheReadTokens, "gen_ai.usage.cache_read_input_tokens")] = new([Int("gen_ai.usage.cache_read_input_tokens", 21)], 21L),
        [(GenAiField.CacheReadTokens, "llm.token_count.prompt_details.cache_read")] = new([Int("llm.token_count.prompt_details.cache_read", 22)], 22L),
        [(GenAiField.CacheReadTokens, "ai.usage.cachedInputTokens")] = new([Int("ai.usage.cachedInputTokens", 23)], 23L),

        [(GenAiField.CacheCreationTokens, "gen_ai.usage.cache_creation.input_tokens")] = new([Int("gen_ai.usage.cache_creation.input_tokens", 30)], 30L),
        [(GenAiField.CacheCreationTokens, "gen_ai.usage.cache_creation_input_tokens")] = new([Int("gen_ai.usage.cache_creation_input_tokens", 31)], 31L),
        [(GenAiField.CacheCreationTokens, "llm.token_count.prompt_details.cache_write")] = new([Int("llm.token_count.prompt_details.cache_write", 32)], 32L),

        [(GenAiField.ReasoningTokens, "gen_ai.usage.reasoning.output_tokens")] = new([Int("gen_ai.usage.reasoning.output_tokens", 7)], 7L),
        [(GenAiField.ReasoningTokens, "llm.token_count.completion_details.reasoning")] = new([Int("llm.token_count.completion_details.reasoning", 8)], 8L),
        [(GenAiField.ReasoningTokens, "ai.usage.reasoningTokens")] = new([Int("ai.usage.reasoningTokens", 9)], 9L),

        [(GenAiField.Cost, "gen_ai.usage.cost")] = new([Dbl("gen_ai.usage.cost", 0.0125)], 12_500L),
        [(GenAiField.Cost, "operation.cost")] = new([Dbl("operation.cost", 0.002)], 2_000L),
        [(GenAiField.Cost, "llm.cost.total")] = new([Dbl("llm.cost.total", 0.0066)], 6_600L),

        // semconv 1.37: already role and parts, kept as sent.
        [(GenAiField.InputText, "gen_ai.input.messages")] = new(
            [Str("gen_ai.input.messages", """[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]""")],
            """[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]"""),
        // semconv 1.26: event gen_ai.content.prompt, attribute gen_ai.prompt "formatted as JSON matching OpenAI messages".
        [(GenAiField.InputText, "gen_ai.content.prompt")] = new(
            [Str("gen_ai.content.prompt", """[{"role": "user", "content": "What is the capital of France?"}]""")],
            Messages(("user", "What is the capital of France?"))),
        // OpenLLMetry: gen_ai.prompt.N.role / gen_ai.prompt.N.content.
        [(GenAiField.InputText, "gen_ai.prompt.")] = new(
            [Str("gen_ai.prompt.1.content", "Tell me a joke"), Str("gen_ai.prompt.0.role", "system"), Str("gen_ai.prompt.0.content", "You are funny"), Str("gen_ai.prompt.1.role", "user")],
            Messages(("system", "You are funny"), ("user", "Tell me a joke"))),
        // OpenInference: llm.input_messages.N.message.role / .content / .contents.M.message_content.text.
        [(GenAiField.InputText, "llm.input_messages.")] = new(
            [Str("llm.input_messages.0.message.role", "system"), Str("llm.input_messages.0.message.content", "Be brief"),
             Str("llm.input_messages.1.message.role", "user"), Str("llm.input_messages.1.message.contents.0.message_content.type", "text"),
             Str("llm.input_messages.1.message.contents.0.message_content.text", "Hi")],
            Messages(("system", "Be brief"), ("user", "Hi"))),
        // AI SDK: ai.prompt.messages, content a string or typed parts.
        [(GenAiField.InputText, "ai.prompt.messages")] = new(
            [Str("ai.prompt.messages", """[{"role":"system","content":"Be brief"},{"role":"user","content":[{"type":"text","text":"Hi"}]}]""")],
            Messages(("system", "Be brief"), ("user", "Hi"))),
        // AI SDK: ai.prompt on the outer call, {system, prompt} or {system, messages}.
        [(GenAiField.InputText, "ai.prompt")] = new(
            [Str("ai.prompt", """{"system":"Be brief","prompt":"Hi"}""")],
            Messages(("system", "Be brief"), ("user", "Hi"))),
        // pydantic-ai 1: events, one JSON object per GenAI event.
        [(GenAiField.InputText, "events")] = new(
            [Str("events", """[{"event.name":"gen_ai.system.message","role":"system","content":"Be brief","gen_ai.system":"openai"},{"event.name":"gen_ai.user.message","role":"user","content":"Hi","gen_ai.system":"openai"},{"event.name":"gen_ai.choice","index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}]""")],
            Messages(("system", "Be brief"), ("user", "Hi"))),
        [(GenAiField.InputText, "all_messages_events")] = new(
            [Str("all_messages_events", """[{"event.name":"gen_ai.user.message","role":"user","content":"Capital of Italy?"},{"event.name":"gen_ai.assistant.message","role":"assistant","content":"Rome"}]""")],
            Messages(("user", "Capital of Italy?"), ("assistant", "Rome"))),
        // Langfuse: langfuse.observation.input, JSON.
        [(GenAiField.InputText, "langfuse.observation.input")] = new(
            [Str("langfuse.observation.input", """[{"role":"user","content":"Summarize this"}]""")],
            Messages(("user", "Summarize this"))),
        // semconv 1.26 attribute form (OpenLLMetry wrote it too): OpenAI messages as JSON, or plain text.
        [(GenAiField.InputText, "gen_ai.prompt")] = new([Str("gen_ai.prompt", "What is 2+2?")], Messages(("user", "What is 2+2?"))),
        // OpenInference input.value: the raw request; its messages when it has them.
        [(GenAiField.InputText, "input.value")] = new(
            [Str("input.value", """{"model":"gpt-4o","messages":[{"role":"user","content":"Hi there"}]}"""), Str("input.mime_type", "application/json")],
            Messages(("user", "Hi there"))),

        [(GenAiField.OutputText, "gen_ai.output.messages")] = new(
            [Str("gen_ai.output.messages", """[{"role":"assistant","parts":[{"type":"text","content":"Sunny"}],"finish_reason":"stop"}]""")],
            """[{"role":"assistant","parts":[{"type":"text","content":"Sunny"}],"finish_reason":"stop"}]"""),
        [(GenAiField.OutputText, "gen_ai.content.completion")] = new(
            [Str("gen_ai.content.completion", """[{"role": "assistant", "content": "The capital of France is Paris."}]""")],
            Messages(("assistant", "The capital of France is Paris."))),
        [(GenAiField.OutputText, "gen_ai.completion.")] = new(
            [Str("gen_ai.completion.0.role", "assistant"), Str("gen_ai.completion.0.content", "Why did..."), Str("gen_ai.completion.0.finish_reason", "stop")],
            """[{"role":"assistant","parts":[{"type":"text","content":"Why did..."}],"finish_reason":"stop"}]"""),
        [(GenAiField.OutputText, "llm.output_messages.")] = new(
            [Str("llm.output_messages.0.message.role", "assistant"),
             Str("llm.output_messages.0.message.tool_calls.0.tool_call.function.name", "get_weather"),
             Str("llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments", """{"city":"Paris"}""")],
            """[{"role":"assistant","parts":[{"type":"tool_call","name":"get_weather","arguments":"{\"city\":\"Paris\"}"}]}]"""),
        [(GenAiField.OutputText, "ai.response.text")] = new([Str("ai.response.text", "Hello!")], Messages(("assistant", "Hello!"))),
        [(GenAiField.OutputText, "events")] = new(
            [Str("events", """[{"event.name":"gen_ai.user.message","role":"user","content":"Hi"},{"event.name":"gen_ai.choice","index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}]""")],
            """[{"role":"assistant","parts":[{"type":"text","content":"Hello"}],"finish_reason":"stop"}]"""),
        [(GenAiField.OutputText, "final_result")] = new([Str("final_result", "Rome")], Messages(("assistant", "Rome"))),
        [(GenAiField.OutputText, "langfuse.observation.output")] = new(
            [Str("langfuse.observation.output", """{"role":"assistant","content":"A summary"}""")], Messages(("assistant", "A summary"))),
        [(GenAiField.OutputText, "gen_ai.completion")] = new([Str("gen_ai.completion", "4")], Messages(("assistant", "4"))),
        [(GenAiField.OutputText, "output.value")] = new(
            [Str("output.value", """{"id":"chatcmpl-1","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}]}"""), Str("output.mime_type", "application/json")],
            """[{"role":"assistant","parts":[{"type":"text","content":"Hi!"}],"finish_reason":"stop"}]"""),

        // semconv 1.37: system instructions, an array of parts; stored first in the input.
        [(GenAiField.SystemInstructions, "gen_ai.system_instructions")] = new(
            [Str("gen_ai.system_instructions", """[{"type":"text","content":"Be brief"}]""")], Messages(("system", "Be brief"))),

        [(GenAiField.SessionId, "session.id")] = new([Str("session.id", "s-otel")], "s-otel"),
        [(GenAiField.SessionId, "gen_ai.conversation.id")] = new([Str("gen_ai.conversation.id", "conv_5j66UpCpwteGg4YSxUnt7lPY")], "conv_5j66UpCpwteGg4YSxUnt7lPY"),
        [(GenAiField.SessionId, "langfuse.session.id")] = new([Str("langfuse.session.id", "s-langfuse")], "s-langfuse"),
        [(GenAiField.SessionId, "traceloop.association.properties.session_id")] = new([Str("traceloop.association.properties.session_id", "s-traceloop")], "s-traceloop"),
        [(GenAiField.SessionId, "ai.telemetry.metadata.sessionId")] = new([Str("ai.telemetry.metadata.sessionId", "s-ai-sdk")], "s-ai-sdk"),

        [(GenAiField.UserId, "user.id")] = new([Str("user.id", "u-otel")], "u-otel"),
        [(GenAiField.UserId, "enduser.id")] = new([Str("enduser.id", "u-enduser")], "u-enduser"),
        [(GenAiField.UserId, "langfuse.user.id")] = new([Str("langfuse.user.id", "u-langfuse")], "u-langfuse"),
        [(GenAiField.UserId, "traceloop.association.properties.user_id")] = new([Str("traceloop.association.properties.user_id", "u-traceloop")], "u-traceloop"),
        [(GenAiField.UserId, "ai.telemetry.metadata.userId")] = new([Str("ai.telemetry.metadata.userId", "u-ai-sdk")], "u-ai-sdk"),

        // Time to first token in nanoseconds from the span's start (Window).
        [(GenAiField.TimeToFirstToken, "gen_ai.response.time_to_first_chunk")] = new([Dbl("gen_ai.response.time_to_first_chunk", 0.5)], 500_000_000L),
        // The Langfuse Python SDK sends json.dumps(datetime): an ISO 8601 string in quotes.
        [(GenAiField.TimeToFirstToken, "langfuse.observation.completion_start_time")] = new(
            [Str("langfuse.observation.completion_start_time", "\"2025-01-01T00:00:00.250000+00:00\"")], 250_000_000L),
        [(GenAiField.TimeToFirstToken, "gen_ai.client.operation.time_to_first_chunk")] = new([Dbl("gen_ai.client.operation.time_to_first_chunk", 0.75)], 750_000_000L),
        [(GenAiField.TimeToFirstToken, "ai.response.msToFirstChunk")] = new([Dbl("ai.response.msToFirstChunk", 412.5)], 412_500_000L),
        [(GenAiField.TimeToFirstToken, "ai.stream.msToFirstChunk")] = new([Int("ai.stream.msToFirstChunk", 300)], 300_000_000L),
        [(GenAiField.TimeToFirstToken, "gen_ai.server.time_to_first_token")] = new([Dbl("gen_ai.server.time_to_first_token", 0.2)], 200_000_000L),
    };

    public static object? Read(GenAiFields fields, GenAiField field) => field switch
    {
        GenAiField.LlmSystem => fields.LlmSystem,
        GenAiField.RequestModel => fields.RequestModel,
        GenAiField.ResponseModel => fields.ResponseModel,
        GenAiField.InputTokens => fields.InputTokens,
        GenAiField.OutputTokens => fields.OutputTokens,
        GenAiField.CacheReadTokens => fields.CacheReadTokens,
        GenAiField.CacheCreationTokens => fields.CacheCreationTokens,
        GenAiField.ReasoningTokens => fields.ReasoningTokens,
        GenAiField.Cost => fields.CostMicros,
        GenAiField.InputText or GenAiField.SystemInstructions => fields.InputText,
        GenAiField.OutputText => fields.OutputText,
        GenAiField.SessionId => fields.SessionId,
        GenAiField.UserId => fields.UserId,
        GenAiField.TimeToFirstToken => fields.TimeToFirstTokenNanos,
        _ => throw new ArgumentOutOfRangeException(nameof(field)),
    };

    public static KeyValue Str(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    public static KeyValue Int(string key, long value) => new() { Key = key, Value = new AnyValue { IntValue = value } };

    public static KeyValue Dbl(string key, double value) => new() { Key = key, Value = new AnyValue { DoubleValue = value } };
}
