using OpenTelemetry.Proto.Common.V1;
using Trulayer.Otlp.GenAi;

namespace Trulayer.Otlp.Tests.GenAi;

public sealed class GenAiMapperTests
{
    public static TheoryData<GenAiField, string> TableRows()
    {
        var rows = new TheoryData<GenAiField, string>();
        foreach (var row in GenAiPrecedence.Table)
        {
            rows.Add(row.Field, row.Attribute);
        }

        return rows;
    }

    [Fact]
    public void Table_EveryRowHasAFixtureFromItsConvention()
        => Assert.All(GenAiPrecedence.Table, row => Assert.True(ConventionFixtures.All.ContainsKey((row.Field, row.Attribute)), $"{row.Field} {row.Attribute}"));

    [Theory]
    [MemberData(nameof(TableRows))]
    public void Map_EachRowsFixtureAlone_FillsItsField(GenAiField field, string attribute)
    {
        var fixture = ConventionFixtures.All[(field, attribute)];

        Assert.Equal(fixture.Expected, ConventionFixtures.Read(GenAiMapper.Map(fixture.Attributes, span: ConventionFixtures.Window), field));
    }

    [Theory]
    [MemberData(nameof(TableRows))]
    public void Map_EveryHigherRankedRowBeatsThisOne_InEitherOrder(GenAiField field, string attribute)
    {
        var loser = ConventionFixtures.All[(field, attribute)];
        foreach (var better in GenAiPrecedence.For(field).TakeWhile(a => a != attribute))
        {
            var winner = ConventionFixtures.All[(field, better)];
            KeyValue[] attributes = [.. loser.Attributes, .. winner.Attributes];

            Assert.Equal(winner.Expected, ConventionFixtures.Read(GenAiMapper.Map(attributes, span: ConventionFixtures.Window), field));
            Assert.Equal(winner.Expected, ConventionFixtures.Read(GenAiMapper.Map([.. attributes.Reverse()], span: ConventionFixtures.Window), field));
        }
    }

    [Fact]
    public void Map_ProviderNameAndSystem_ProviderNameWins()
    {
        var fields = GenAiMapper.Map([Str("gen_ai.system", "openai"), Str("gen_ai.provider.name", "azure.ai.openai")]);

        Assert.Equal("azure.ai.openai", fields.LlmSystem);
    }

    [Fact]
    public void Map_OnlyLegacyTokenNames_AreUsed()
    {
        var fields = GenAiMapper.Map([Int("gen_ai.usage.prompt_tokens", 150), Int("gen_ai.usage.completion_tokens", 50)]);

        Assert.Equal((150L, 50L), (fields.InputTokens, fields.OutputTokens));
    }

    [Fact]
    public void Map_CurrentAndLegacyTokenNames_CurrentWins()
    {
        var fields = GenAiMapper.Map([Int("gen_ai.usage.prompt_tokens", 1), Int("gen_ai.usage.input_tokens", 150), Int("gen_ai.usage.completion_tokens", 2), Int("gen_ai.usage.output_tokens", 50)]);

        Assert.Equal((150L, 50L), (fields.InputTokens, fields.OutputTokens));
    }

    [Theory]
    [InlineData("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_creation.input_tokens")]
    [InlineData("gen_ai.usage.cache_read_input_tokens", "gen_ai.usage.cache_creation_input_tokens")]
    [InlineData("llm.token_count.prompt_details.cache_read", "llm.token_count.prompt_details.cache_write")]
    public void Map_CacheTokensInEachSpelling_AreRead(string read, string creation)
    {
        var fields = GenAiMapper.Map([Int(read, 30), Int(creation, 70)]);

        Assert.Equal((30L, 70L), (fields.CacheReadTokens, fields.CacheCreationTokens));
    }

    [Fact]
    public void Map_BothCacheSpellings_DottedSemconvSpellingWins()
    {
        var fields = GenAiMapper.Map([Int("gen_ai.usage.cache_read_input_tokens", 1), Int("gen_ai.usage.cache_read.input_tokens", 2),
            Int("gen_ai.usage.cache_creation_input_tokens", 3), Int("gen_ai.usage.cache_creation.input_tokens", 4)]);

        Assert.Equal((2L, 4L), (fields.CacheReadTokens, fields.CacheCreationTokens));
    }

    [Fact]
    public void Map_ReasoningTokens_AreRead()
        => Assert.Equal(512L, GenAiMapper.Map([Int("gen_ai.usage.reasoning.output_tokens", 512)]).ReasoningTokens);

    [Fact]
    public void Map_OnlyOpenInference_FillsEveryFieldItHas()
    {
        var fields = GenAiMapper.Map([
            Str("llm.system", "anthropic"), Str("llm.model_name", "claude-3-5-sonnet"), Int("llm.token_count.prompt", 10),
            Int("llm.token_count.completion", 5), Int("llm.token_count.completion_details.reasoning", 2), Dbl("llm.cost.total", 0.0066),
            Str("input.value", "question"), Str("output.value", "answer")]);

        Assert.Equal(
            ("anthropic", (string?)null, "claude-3-5-sonnet", 10L, 5L, 2L, 6_600L, ConventionFixtures.Messages(("user", "question")), ConventionFixtures.Messages(("assistant", "answer"))),
            (fields.LlmSystem, fields.RequestModel, fields.ResponseModel, fields.InputTokens, fields.OutputTokens, fields.ReasoningTokens, fields.CostMicros, fields.InputText, fields.OutputText));
    }

    [Fact]
    public void Map_SemconvAndOpenInference_SemconvWins()
    {
        var fields = GenAiMapper.Map([Str("llm.model_name", "oi-model"), Int("llm.token_count.prompt", 1), Str("gen_ai.request.model", "gpt-4o"), Int("gen_ai.usage.input_tokens", 9)]);

        Assert.Equal(("gpt-4o", "oi-model", 9L), (fields.RequestModel, fields.ResponseModel, fields.InputTokens));
    }

    [Fact]
    public void Map_RequestAndResponseModel_AreSeparate()
    {
        var fields = GenAiMapper.Map([Str("gen_ai.request.model", "gpt-4o"), Str("gen_ai.response.model", "gpt-4o-2024-08-06")]);

        Assert.Equal(("gpt-4o", "gpt-4o-2024-08-06"), (fields.RequestModel, fields.ResponseModel));
    }

    [Fact]
    public void Map_NegativeTokenCount_CountsAsAbsentSoTheNextAttributeWins()
    {
        var fields = GenAiMapper.Map([Int("gen_ai.usage.input_tokens", -1), Int("gen_ai.usage.prompt_tokens", 7)]);
        var reversed = GenAiMapper.Map([Int("gen_ai.usage.prompt_tokens", 7), Int("gen_ai.usage.input_tokens", -1)]);

        Assert.Equal((7L, 7L), (fields.InputTokens, reversed.InputTokens));
    }

    [Fact]
    public void Map_TokenCountsAsWholeDoubleOrDigitString_AreAccepted()
    {
        var fields = GenAiMapper.Map([Dbl("gen_ai.usage.input_tokens", 150.0), Str("gen_ai.usage.output_tokens", "50")]);

        Assert.Equal((150L, 50L), (fields.InputTokens, fields.OutputTokens));
    }

    [Fact]
    public void Map_TokenCountsWithAFractionOrNotANumber_AreIgnored()
    {
        var fields = GenAiMapper.Map([Dbl("gen_ai.usage.input_tokens", 150.5), Str("gen_ai.usage.output_tokens", "fifty"), Dbl("gen_ai.usage.reasoning.output_tokens", double.NaN)]);

        Assert.Equal(((long?)null, (long?)null, (long?)null), (fields.InputTokens, fields.OutputTokens, fields.ReasoningTokens));
    }

    [Theory]
    [InlineData(0.0123, 12_300L)]
    [InlineData(1.0, 1_000_000L)]
    [InlineData(0.0000005, 1L)]
    [InlineData(0.0003, 300L)]
    [InlineData(0.0, 0L)]
    public void Map_Cost_IsStoredInMicroUnits(double cost, long micros)
        => Assert.Equal(micros, GenAiMapper.Map([Dbl("gen_ai.usage.cost", cost)]).CostMicros);

    [Fact]
    public void Map_CostAsIntegerOrString_IsAccepted()
    {
        Assert.Equal(2_000_000L, GenAiMapper.Map([Int("gen_ai.usage.cost", 2)]).CostMicros);
        Assert.Equal(500_000L, GenAiMapper.Map([Str("gen_ai.usage.cost", "0.5")]).CostMicros);
    }

    [Theory]
    [InlineData(-0.01)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(1e20)]
    public void Map_CostNegativeNotFiniteOrTooLarge_IsIgnored(double cost)
        => Assert.Null(GenAiMapper.Map([Dbl("gen_ai.usage.cost", cost)]).CostMicros);

    [Fact]
    public void Map_PromptAndCompletion_BecomeInputAndOutputText()
    {
        var fields = GenAiMapper.Map([Str("gen_ai.prompt", "What is 2+2?"), Str("gen_ai.completion", "4")]);

        Assert.Equal(
            (ConventionFixtures.Messages(("user", "What is 2+2?")), ConventionFixtures.Messages(("assistant", "4")), false),
            (fields.InputText, fields.OutputText, fields.TextTruncated));
    }

    [Fact]
    public void Map_MessagesAndPrompt_MessagesWin()
    {
        var fields = GenAiMapper.Map([Str("gen_ai.prompt", "old"), Str("gen_ai.input.messages", "[{\"role\":\"user\"}]"), Str("gen_ai.completion", "old"), Str("gen_ai.output.messages", "[]")]);

        Assert.Equal(("[{\"role\":\"user\"}]", "[]"), (fields.InputText, fields.OutputText));
    }

    [Fact]
    public void Map_StructuredMessages_AreRenderedAsJson()
    {
        var message = new AnyValue { KvlistValue = new KeyValueList { Values = { Str("role", "user"), Str("content", "hi") } } };
        var fields = GenAiMapper.Map([new KeyValue { Key = "gen_ai.input.messages", Value = new AnyValue { ArrayValue = new ArrayValue { Values = { message } } } }]);

        Assert.Equal("[{\"role\":\"user\",\"content\":\"hi\"}]", fields.InputText);
    }

    [Fact]
    public void Map_TextOverTheDefaultCap_IsCutTo256KiBAndFlagged()
    {
        var fields = GenAiMapper.Map([Str("gen_ai.prompt", new string('a', 300 * 1024)), Str("gen_ai.completion", "short")]);

        Assert.Equal(256 * 1024, fields.InputText!.Length);
        Assert.Equal(ConventionFixtures.Messages(("assistant", "short")), fields.OutputText);
        Assert.True(fields.TextTruncated);
    }

    [Fact]
    public void Map_OutputOverAConfiguredCap_IsCutAndFlagged()
    {
        var fields = GenAiMapper.Map([Str("gen_ai.output.messages", "0123456789")], maxTextBytes: 4);

        Assert.Equal(("0123", true), (fields.OutputText, fields.TextTruncated));
    }

    [Theory]
    [InlineData("ab\U0001F600", 5, "ab")] // the emoji takes 4 bytes: it does not fit in 3
    [InlineData("ab\U0001F600", 6, "ab\U0001F600")]
    [InlineData("\u00e9\u00e9\u00e9", 5, "\u00e9\u00e9")] // 2 bytes each
    public void Cap_CutsOnACharacterBoundary(string text, int maxBytes, string expected)
    {
        var (capped, truncated) = GenAiMapper.Cap(text, maxBytes);

        Assert.Equal(expected, capped);
        Assert.Equal(expected != text, truncated);
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(capped) <= maxBytes);
    }

    [Theory]
    [InlineData("openai", "openai")]
    [InlineData("openai.chat", "openai")]
    [InlineData("openai.responses", "openai")]
    [InlineData("anthropic.messages", "anthropic")]
    [InlineData("google.vertex.chat", "gcp.vertex_ai")]
    [InlineData("google.generative-ai", "gcp.gemini")]
    [InlineData("amazon-bedrock", "aws.bedrock")]
    [InlineData("azure.chat", "azure.ai.openai")]
    [InlineData("mistral.chat", "mistral_ai")]
    [InlineData("xai.chat", "x_ai")]
    [InlineData("SomeNewLab", "somenewlab")]
    public void Normalize_ProviderNames_AreTheSemconvWellKnownNames(string sent, string stored) => Assert.Equal(stored, GenAiProviders.Normalize(sent));

    [Fact]
    public void Map_SystemInstructionsAndMessages_InstructionsComeFirst()
    {
        var fields = GenAiMapper.Map([
            Str("gen_ai.input.messages", """[{"role":"user","parts":[{"type":"text","content":"Hi"}]}]"""),
            Str("gen_ai.system_instructions", """[{"type":"text","content":"Be brief"}]""")]);

        Assert.Equal(ConventionFixtures.Messages(("system", "Be brief"), ("user", "Hi")), fields.InputText);
    }

    [Fact]
    public void Map_OpenAiToolCallsAndToolResults_BecomeToolParts()
    {
        var fields = GenAiMapper.Map([Str("gen_ai.prompt", """
            [{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
             {"role":"tool","tool_call_id":"call_1","content":"rainy, 57F"}]
            """)]);

        Assert.Equal(
            """[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"}]},{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","response":"rainy, 57F"}]}]""",
            fields.InputText);
    }

    [Fact]
    public void Map_InputValueThatIsNotMessages_IsKeptAsOneTextMessage()
        => Assert.Equal(ConventionFixtures.Messages(("user", "{\"query\":\"weather\"}")), GenAiMapper.Map([Str("input.value", """{"query":"weather"}""")]).InputText);

    [Fact]
    public void Map_OpenInferenceMessagesAndInputValue_MessagesWin()
    {
        var fields = GenAiMapper.Map([
            Str("input.value", """{"model":"gpt-4o","messages":[{"role":"user","content":"raw"}]}"""),
            Str("llm.input_messages.0.message.role", "user"), Str("llm.input_messages.0.message.content", "from messages")]);

        Assert.Equal(ConventionFixtures.Messages(("user", "from messages")), fields.InputText);
    }

    [Fact]
    public void Map_EventListWithoutGenAiEvents_FallsToTheNextRow()
        => Assert.Equal(ConventionFixtures.Messages(("user", "q")), GenAiMapper.Map([Str("events", """[{"event.name":"other"}]"""), Str("input.value", "q")]).InputText);

    [Fact]
    public void Map_NoGenAiAttributes_FillsNothing()
    {
        var fields = GenAiMapper.Map([Str("http.route", "/"), Int("http.status_code", 200)]);

        Assert.Same(GenAiFields.None, fields);
    }

    [Fact]
    public void Map_EmptyModelName_CountsAsAbsent()
        => Assert.Equal("llm-model", GenAiMapper.Map([Str("gen_ai.request.model", ""), Str("ai.model.id", "llm-model")]).RequestModel);

    private static KeyValue Str(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };

    private static KeyValue Int(string key, long value) => new() { Key = key, Value = new AnyValue { IntValue = value } };

    private static KeyValue Dbl(string key, double value) => new() { Key = key, Value = new AnyValue { DoubleValue = value } };
}
