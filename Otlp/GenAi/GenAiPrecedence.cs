using System.Collections.Frozen;

namespace Trulayer.Otlp.GenAi;

/// <summary>A promoted column of a GenAI span, filled from span attributes.</summary>
public enum GenAiField
{
    LlmSystem,
    RequestModel,
    ResponseModel,
    InputTokens,
    OutputTokens,
    CacheReadTokens,
    CacheCreationTokens,
    ReasoningTokens,
    Cost,
    InputText,
    OutputText,

    /// <summary>System instructions kept apart from the messages (semconv 1.37); put first in the input.</summary>
    SystemInstructions,
    SessionId,
    UserId,

    /// <summary>Time to first token (first chunk of a streamed response), in nanoseconds from the span's start.</summary>
    TimeToFirstToken,
}

/// <summary>Where an attribute name comes from.</summary>
public enum GenAiConvention
{
    /// <summary>The OpenTelemetry GenAI semantic conventions as they stand now (1.37 and later).</summary>
    SemConv,

    /// <summary>Names the GenAI conventions used before (1.26 to 1.36) or SDKs still send.</summary>
    SemConvLegacy,

    /// <summary>Arize OpenInference.</summary>
    OpenInference,

    /// <summary>Traceloop OpenLLMetry (semconv-ai).</summary>
    OpenLlmetry,

    /// <summary>The Vercel AI SDK's own <c>ai.*</c> telemetry.</summary>
    VercelAi,

    /// <summary>The Langfuse SDKs' <c>langfuse.*</c> attributes.</summary>
    Langfuse,

    /// <summary>Pydantic Logfire and pydantic-ai's own attributes.</summary>
    Logfire,

    /// <summary>Other OpenTelemetry semantic conventions (session, user).</summary>
    OTel,
}

/// <summary>How a row's attribute value becomes its field.</summary>
public enum GenAiShape
{
    /// <summary>The value as it is: a model, a provider name, a count, a cost, an identifier.</summary>
    Value,

    /// <summary>A provider name that <see cref="GenAiProviders.Normalize"/> maps to the semconv well-known name.</summary>
    Provider,

    /// <summary>Messages already in the semconv 1.37 shape (role and parts): kept as they are.</summary>
    SemConvMessages,

    /// <summary>Chat messages as JSON ({role, content} in the OpenAI or AI SDK form) or plain text.</summary>
    ChatJson,

    /// <summary>Plain text (or JSON of unknown shape): one message of the input's or output's role.</summary>
    Text,

    /// <summary>The attribute is a prefix <c>p.</c>: messages flattened as <c>p.N.role</c>, <c>p.N.content</c>, ...</summary>
    Indexed,

    /// <summary>The attribute is a span event's name; its <c>gen_ai.prompt</c> or <c>gen_ai.completion</c> is the content.</summary>
    SpanEvent,

    /// <summary>pydantic-ai's <c>events</c>: a JSON array of GenAI events (messages in, choices out).</summary>
    EventList,

    /// <summary>A duration in seconds: a number, or a numeric string.</summary>
    Seconds,

    /// <summary>A duration in milliseconds: a number, or a numeric string.</summary>
    Milliseconds,

    /// <summary>
    /// A point in time (ISO 8601, also JSON-quoted; or Unix time as a number): the field is its distance
    /// from the span's start, usable only within the span (<see cref="SpanWindow"/>).
    /// </summary>
    Timestamp,
}

/// <summary>One row of the precedence table: <paramref name="Attribute"/> fills <paramref name="Field"/>.</summary>
public sealed record GenAiSource(GenAiField Field, string Attribute, GenAiConvention Convention, GenAiShape Shape = GenAiShape.Value);

/// <summary>
/// The one table that decides which attribute fills which promoted column. For each field the rows are
/// in precedence order: the first attribute that is present on the span with a usable value wins,
/// whatever order the attributes arrive in. Current semantic conventions first, then the names older
/// conventions and the instrumentation libraries use; raw request/response JSON last.
/// </summary>
public static class GenAiPrecedence
{
    private const GenAiConvention SemConv = GenAiConvention.SemConv, Legacy = GenAiConvention.SemConvLegacy,
        OpenInference = GenAiConvention.OpenInference, OpenLlmetry = GenAiConvention.OpenLlmetry, VercelAi = GenAiConvention.VercelAi,
        Langfuse = GenAiConvention.Langfuse, Logfire = GenAiConvention.Logfire, OTel = GenAiConvention.OTel;

    public static IReadOnlyList<GenAiSource> Table { get; } =
    [
        new(GenAiField.LlmSystem, "gen_ai.provider.name", SemConv, GenAiShape.Provider),       // semconv 1.37+
        new(GenAiField.LlmSystem, "gen_ai.system", Legacy, GenAiShape.Provider),               // semconv 1.26-1.36, OpenLLMetry
        new(GenAiField.LlmSystem, "llm.provider", OpenInference, GenAiShape.Provider),         // OpenInference: the hosting provider
        new(GenAiField.LlmSystem, "llm.system", OpenInference, GenAiShape.Provider),           // OpenInference: the model family's vendor
        new(GenAiField.LlmSystem, "ai.model.provider", VercelAi, GenAiShape.Provider),         // AI SDK: "openai.chat"

        new(GenAiField.RequestModel, "gen_ai.request.model", SemConv),                         // semconv, OpenLLMetry, AI SDK
        new(GenAiField.RequestModel, "ai.model.id", VercelAi),                                 // AI SDK: the model asked for
        new(GenAiField.RequestModel, "langfuse.observation.model.name", Langfuse),             // Langfuse generation model
        new(GenAiField.RequestModel, "llm.request.model", OpenLlmetry),                        // OpenLLMetry before gen_ai.*

        new(GenAiField.ResponseModel, "gen_ai.response.model", SemConv),                       // semconv, OpenLLMetry, AI SDK
        new(GenAiField.ResponseModel, "ai.response.model", VercelAi),                          // AI SDK: the model that answered
        new(GenAiField.ResponseModel, "llm.model_name", OpenInference),                        // OpenInference: the model that answered
        new(GenAiField.ResponseModel, "llm.response.model", OpenLlmetry),                      // OpenLLMetry before gen_ai.*

        new(GenAiField.InputTokens, "gen_ai.usage.input_tokens", SemConv),                     // semconv 1.27+
        new(GenAiField.InputTokens, "gen_ai.usage.prompt_tokens", Legacy),                     // semconv 1.26, OpenLLMetry
        new(GenAiField.InputTokens, "llm.token_count.prompt", OpenInference),                  // OpenInference
        new(GenAiField.InputTokens, "ai.usage.inputTokens", VercelAi),                         // AI SDK 5+
        new(GenAiField.InputTokens, "ai.usage.promptTokens", VercelAi),                        // AI SDK 3-4

        new(GenAiField.OutputTokens, "gen_ai.usage.output_tokens", SemConv),                   // semconv 1.27+
        new(GenAiField.OutputTokens, "gen_ai.usage.completion_tokens", Legacy),                // semconv 1.26, OpenLLMetry
        new(GenAiField.OutputTokens, "llm.token_count.completion", OpenInference),             // OpenInference
        new(GenAiField.OutputTokens, "ai.usage.outputTokens", VercelAi),                       // AI SDK 5+
        new(GenAiField.OutputTokens, "ai.usage.completionTokens", VercelAi),                   // AI SDK 3-4

        // The dotted spelling is semconv's; the underscore one is Anthropic's field name, which SDKs copied.
        new(GenAiField.CacheReadTokens, "gen_ai.usage.cache_read.input_tokens", SemConv),      // semconv 1.38
        new(GenAiField.CacheReadTokens, "gen_ai.usage.cache_read_input_tokens", Legacy),       // OpenLLMetry (Anthropic's name)
        new(GenAiField.CacheReadTokens, "llm.token_count.prompt_details.cache_read", OpenInference), // OpenInference
        new(GenAiField.CacheReadTokens, "ai.usage.cachedInputTokens", VercelAi),               // AI SDK 5+

        new(GenAiField.CacheCreationTokens, "gen_ai.usage.cache_creation.input_tokens", SemConv), // semconv 1.38
        new(GenAiField.CacheCreationTokens, "gen_ai.usage.cache_creation_input_tokens", Legacy),  // OpenLLMetry (Anthropic's name)
        new(GenAiField.CacheCreationTokens, "llm.token_count.prompt_details.cache_write", OpenInference), // OpenInference

        new(GenAiField.ReasoningTokens, "gen_ai.usage.reasoning.output_tokens", SemConv),      // semconv (proposed), pydantic-ai
        new(GenAiField.ReasoningTokens, "llm.token_count.completion_details.reasoning", OpenInference), // OpenInference
        new(GenAiField.ReasoningTokens, "ai.usage.reasoningTokens", VercelAi),                 // AI SDK 5+

        // A cost in currency units (USD by convention), stored as micro-units.
        new(GenAiField.Cost, "gen_ai.usage.cost", Legacy),                                     // OpenLLMetry, LiteLLM
        new(GenAiField.Cost, "operation.cost", Logfire),                                       // Logfire / pydantic-ai (genai-prices)
        new(GenAiField.Cost, "llm.cost.total", OpenInference),                                 // OpenInference

        new(GenAiField.InputText, "gen_ai.input.messages", SemConv, GenAiShape.SemConvMessages),          // semconv 1.37+, AI SDK 6, pydantic-ai 2+
        new(GenAiField.InputText, "gen_ai.content.prompt", Legacy, GenAiShape.SpanEvent),                  // semconv 1.26 span event
        new(GenAiField.InputText, "gen_ai.prompt.", OpenLlmetry, GenAiShape.Indexed),                      // OpenLLMetry gen_ai.prompt.N.role/content
        new(GenAiField.InputText, "llm.input_messages.", OpenInference, GenAiShape.Indexed),               // OpenInference llm.input_messages.N.message.*
        new(GenAiField.InputText, "ai.prompt.messages", VercelAi, GenAiShape.ChatJson),                    // AI SDK model call
        new(GenAiField.InputText, "ai.prompt", VercelAi, GenAiShape.ChatJson),                             // AI SDK outer call {system, prompt, messages}
        new(GenAiField.InputText, "events", Logfire, GenAiShape.EventList),                                // pydantic-ai 1 model request
        new(GenAiField.InputText, "all_messages_events", Logfire, GenAiShape.EventList),                   // pydantic-ai 1 agent run
        new(GenAiField.InputText, "langfuse.observation.input", Langfuse, GenAiShape.ChatJson),            // Langfuse
        new(GenAiField.InputText, "gen_ai.prompt", Legacy, GenAiShape.ChatJson),                           // semconv 1.26 attribute form
        new(GenAiField.InputText, "input.value", OpenInference, GenAiShape.ChatJson),                      // OpenInference raw input, last resort

        new(GenAiField.OutputText, "gen_ai.output.messages", SemConv, GenAiShape.SemConvMessages),        // semconv 1.37+, AI SDK 6, pydantic-ai 2+
        new(GenAiField.OutputText, "gen_ai.content.completion", Legacy, GenAiShape.SpanEvent),             // semconv 1.26 span event
        new(GenAiField.OutputText, "gen_ai.completion.", OpenLlmetry, GenAiShape.Indexed),                 // OpenLLMetry gen_ai.completion.N.role/content
        new(GenAiField.OutputText, "llm.output_messages.", OpenInference, GenAiShape.Indexed),             // OpenInference llm.output_messages.N.message.*
        new(GenAiField.OutputText, "ai.response.text", VercelAi, GenAiShape.Text),                         // AI SDK
        new(GenAiField.OutputText, "events", Logfire, GenAiShape.EventList),                               // pydantic-ai 1 model request (gen_ai.choice)
        new(GenAiField.OutputText, "final_result", Logfire, GenAiShape.Text),                              // pydantic-ai 1 agent run
        new(GenAiField.OutputText, "langfuse.observation.output", Langfuse, GenAiShape.ChatJson),          // Langfuse
        new(GenAiField.OutputText, "gen_ai.completion", Legacy, GenAiShape.ChatJson),                      // semconv 1.26 attribute form
        new(GenAiField.OutputText, "output.value", OpenInference, GenAiShape.ChatJson),                    // OpenInference raw output, last resort

        new(GenAiField.SystemInstructions, "gen_ai.system_instructions", SemConv),             // semconv 1.37+

        new(GenAiField.SessionId, "session.id", OTel),                                         // OTel session, OpenInference, Langfuse
        new(GenAiField.SessionId, "gen_ai.conversation.id", SemConv),                          // semconv 1.37+
        new(GenAiField.SessionId, "langfuse.session.id", Langfuse),                            // Langfuse
        new(GenAiField.SessionId, "traceloop.association.properties.session_id", OpenLlmetry), // OpenLLMetry association properties
        new(GenAiField.SessionId, "ai.telemetry.metadata.sessionId", VercelAi),                // AI SDK telemetry metadata

        new(GenAiField.UserId, "user.id", OTel),                                               // OTel user, OpenInference, Langfuse
        new(GenAiField.UserId, "enduser.id", OTel),                                            // OTel (deprecated) end user
        new(GenAiField.UserId, "langfuse.user.id", Langfuse),                                  // Langfuse
        new(GenAiField.UserId, "traceloop.association.properties.user_id", OpenLlmetry),       // OpenLLMetry association properties
        new(GenAiField.UserId, "ai.telemetry.metadata.userId", VercelAi),                      // AI SDK telemetry metadata

        // Time to first token, from the span's start (GenAiMapper.TimeToFirstTokenNanos says what is usable).
        new(GenAiField.TimeToFirstToken, "gen_ai.response.time_to_first_chunk", SemConv, GenAiShape.Seconds),          // semconv 1.41+ (#3598), seconds
        new(GenAiField.TimeToFirstToken, "langfuse.observation.completion_start_time", Langfuse, GenAiShape.Timestamp), // Langfuse SDKs: when the completion began
        new(GenAiField.TimeToFirstToken, "gen_ai.client.operation.time_to_first_chunk", Logfire, GenAiShape.Seconds),  // pydantic-ai 2.6+: the metric's name as a span attribute, seconds
        new(GenAiField.TimeToFirstToken, "ai.response.msToFirstChunk", VercelAi, GenAiShape.Milliseconds),             // AI SDK 4+ (ai.streamText.doStream)
        new(GenAiField.TimeToFirstToken, "ai.stream.msToFirstChunk", VercelAi, GenAiShape.Milliseconds),               // AI SDK 3 (and streamObject), ms
        new(GenAiField.TimeToFirstToken, "gen_ai.server.time_to_first_token", Logfire, GenAiShape.Seconds),            // server-side measurement Logfire falls back to, seconds
    ];

    /// <summary>
    /// Each exact attribute of the table with its rows and their rank within their field (0 wins). A span
    /// event row is looked up by the event's name: the reader of the span adds the event's content as an
    /// attribute of that name.
    /// </summary>
    internal static FrozenDictionary<string, (GenAiSource Row, int Rank)[]> ByAttribute { get; } = Table
        .Where(r => r.Shape is not GenAiShape.Indexed)
        .GroupBy(r => r.Attribute)
        .ToFrozenDictionary(g => g.Key, g => g.Select(r => (r, Rank(r))).ToArray(), StringComparer.Ordinal);

    /// <summary>The indexed rows (their attribute is a prefix).</summary>
    internal static (GenAiSource Row, int Rank)[] Indexed { get; } = [.. Table.Where(r => r.Shape == GenAiShape.Indexed).Select(r => (r, Rank(r)))];

    /// <summary>The attributes, in precedence order, that fill <paramref name="field"/>.</summary>
    public static IReadOnlyList<string> For(GenAiField field) => [.. Table.Where(r => r.Field == field).Select(r => r.Attribute)];

    /// <summary>
    /// The row by which <paramref name="attribute"/>'s value alone fills <paramref name="field"/>: a plain
    /// attribute (not an indexed prefix, not a span event's name) whose normalized form is a function of its
    /// text (<see cref="GenAiContent.Normalize"/>); null when there is none.
    /// </summary>
    public static GenAiSource? SingleAttribute(GenAiField field, string attribute)
    {
        if (ByAttribute.TryGetValue(attribute, out var rows))
        {
            foreach (var (row, _) in rows)
            {
                if (row.Field == field && row.Shape is GenAiShape.SemConvMessages or GenAiShape.ChatJson or GenAiShape.Text or GenAiShape.EventList)
                {
                    return row;
                }
            }
        }

        return null;
    }

    /// <summary>Whether <paramref name="attribute"/> carries prompt or completion content (InputText/OutputText/SystemInstructions).</summary>
    public static bool IsContent(string attribute)
    {
        if (ByAttribute.TryGetValue(attribute, out var rows))
        {
            return rows.Any(r => r.Row.Field is GenAiField.InputText or GenAiField.OutputText or GenAiField.SystemInstructions);
        }

        foreach (var (row, _) in Indexed)
        {
            if (attribute.StartsWith(row.Attribute, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static int Rank(GenAiSource row) => Table.Where(r => r.Field == row.Field).ToList().IndexOf(row);
}
