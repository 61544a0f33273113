using OpenTelemetry.Proto.Common.V1;
using Trulayer.Otlp.GenAi;

namespace Trulayer.Otlp.Tests.GenAi;

/// <summary>
/// Content from one string attribute is stored as that attribute's text with its key as the form, and
/// normalized on read: <see cref="GenAiContent.Normalize(GenAiField, string?, string)"/> must give byte for
/// byte what the mapper stores in the normalized column.
/// </summary>
public sealed class GenAiContentNormalizeTests
{
    public static TheoryData<GenAiField, string> ContentRows()
    {
        var rows = new TheoryData<GenAiField, string>();
        foreach (var row in GenAiPrecedence.Table.Where(r => r.Field is GenAiField.InputText or GenAiField.OutputText))
        {
            rows.Add(row.Field, row.Attribute);
        }

        return rows;
    }

    [Theory]
    [MemberData(nameof(ContentRows))]
    public void Map_EachContentRowsFixture_NamesItsSourceWhenOneStringAttribute_AndNormalizeGivesTheMappedText(GenAiField field, string attribute)
    {
        var fixture = ConventionFixtures.All[(field, attribute)];

        var fields = GenAiMapper.Map(fixture.Attributes);

        var source = field == GenAiField.InputText ? fields.InputSource : fields.OutputSource;
        var mapped = (string?)ConventionFixtures.Read(fields, field);
        Assert.Equal(fixture.Expected, mapped);
        var row = GenAiPrecedence.Table.Single(r => r.Field == field && r.Attribute == attribute);
        var single = fixture.Attributes.FirstOrDefault(a => a.Key == attribute && a.Value.ValueCase == AnyValue.ValueOneofCase.StringValue);
        if (row.Shape is GenAiShape.Indexed or GenAiShape.SpanEvent || single is null)
        {
            // From several attributes, a span event or a structured value: only the normalized form is stored.
            Assert.Null(source);
            return;
        }

        var s = Assert.NotNull(source);
        Assert.Same(single, fixture.Attributes[s.Index]);
        Assert.Equal(row.Shape == GenAiShape.SemConvMessages ? null : attribute, s.Form);
        Assert.Equal(mapped, GenAiContent.Normalize(field, s.Form, single.Value.StringValue));
    }

    public static TheoryData<string, string, string> Forms() => new()
    {
        { "gen_ai.prompt", "What is 2+2?", """[{"role":"user","parts":[{"type":"text","content":"What is 2+2?"}]}]""" },
        { "gen_ai.completion", "4", """[{"role":"assistant","parts":[{"type":"text","content":"4"}]}]""" },
        { "input.value", """{"messages":[{"role":"system","content":"Be brief"},{"role":"user","content":"Hi"}]}""", ConventionFixtures.Messages(("system", "Be brief"), ("user", "Hi")) },
        { "output.value", "plain answer", ConventionFixtures.Messages(("assistant", "plain answer")) },
        { "ai.prompt.messages", """[{"role":"user","content":[{"type":"text","text":"Hi"}]}]""", ConventionFixtures.Messages(("user", "Hi")) },
        { "ai.response.text", """{"not":"messages"}""", ConventionFixtures.Messages(("assistant", """{"not":"messages"}""")) },
        { "langfuse.observation.input", "question", ConventionFixtures.Messages(("user", "question")) },
        { "final_result", "Rome", ConventionFixtures.Messages(("assistant", "Rome")) },
    };

    [Theory]
    [MemberData(nameof(Forms))]
    public void Normalize_EachForm_GivesTheMappersTextAndTheMapperNamesTheForm(string form, string text, string normalized)
    {
        var field = GenAiPrecedence.SingleAttribute(GenAiField.InputText, form) is null ? GenAiField.OutputText : GenAiField.InputText;
        var fields = GenAiMapper.Map([Str("gen_ai.system", "openai"), Str(form, text)]);

        Assert.Equal(normalized, GenAiContent.Normalize(field, form, text));
        Assert.Equal(normalized, field == GenAiField.InputText ? fields.InputText : fields.OutputText);
        Assert.Equal(new GenAiContentSource(1, form), field == GenAiField.InputText ? fields.InputSource : fields.OutputSource);
    }

    [Fact]
    public void Normalize_NoForm_GivesTheTextAsItIs()
    {
        const string text = """[{"role":"user","parts":[{"type":"text","content":"Hi"}]}]""";

        Assert.Same(text, GenAiContent.Normalize(GenAiField.InputText, null, text));
    }

    [Fact]
    public void Normalize_EventsForBothFields_TakesTheFieldsEvents()
    {
        const string events = """[{"event.name":"gen_ai.user.message","content":"Hi"},{"event.name":"gen_ai.choice","message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}]""";

        Assert.Equal(ConventionFixtures.Messages(("user", "Hi")), GenAiContent.Normalize(GenAiField.InputText, "events", events));
        Assert.Equal("""[{"role":"assistant","parts":[{"type":"text","content":"Hello"}],"finish_reason":"stop"}]""", GenAiContent.Normalize(GenAiField.OutputText, "events", events));
    }

    [Theory]
    [InlineData(GenAiField.InputText, "gen_ai.prompt.")]         // indexed: several attributes
    [InlineData(GenAiField.InputText, "gen_ai.content.prompt")]  // a span event
    [InlineData(GenAiField.OutputText, "gen_ai.prompt")]         // fills the input, not the output
    [InlineData(GenAiField.InputText, "http.route")]
    public void Normalize_NotAFormOfTheField_Throws(GenAiField field, string form)
    {
        var error = Assert.Throws<ArgumentException>(() => GenAiContent.Normalize(field, form, "text"));

        Assert.Contains(form, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Map_SystemInstructionsBeforeTheInput_NoSource()
    {
        var fields = GenAiMapper.Map([Str("gen_ai.prompt", "Hi"), Str("gen_ai.system_instructions", "Be brief")]);

        Assert.Equal(ConventionFixtures.Messages(("system", "Be brief"), ("user", "Hi")), fields.InputText);
        Assert.Null(fields.InputSource);
    }

    [Fact]
    public void Map_NormalizedTextCutToTheCap_NoSource()
    {
        var fields = GenAiMapper.Map([Str("gen_ai.prompt", new string('x', 80)), Str("gen_ai.completion", "ok")], maxTextBytes: 100);

        Assert.True(fields.TextTruncated);
        Assert.Null(fields.InputSource);
        Assert.Equal(new GenAiContentSource(1, "gen_ai.completion"), fields.OutputSource);
    }

    [Fact]
    public void Map_ValueOverTheCapThoughItsNormalizedFormFits_NoSource()
    {
        var value = """{"messages":[{"role":"user","content":"Hi"}],"metadata":""" + "\"" + new string('m', 200) + "\"}";

        var fields = GenAiMapper.Map([Str("input.value", value)], maxTextBytes: 100);

        Assert.Equal((ConventionFixtures.Messages(("user", "Hi")), false), (fields.InputText, fields.TextTruncated));
        Assert.Null(fields.InputSource);
    }

    [Fact]
    public void Map_StructuredValue_NoSource()
    {
        var structured = new KeyValue { Key = "input.value", Value = new AnyValue { ArrayValue = new ArrayValue { Values = { new AnyValue { StringValue = "Hi" } } } } };

        var fields = GenAiMapper.Map([structured]);

        Assert.NotNull(fields.InputText);
        Assert.Null(fields.InputSource);
    }

    private static KeyValue Str(string key, string value) => new() { Key = key, Value = new AnyValue { StringValue = value } };
}
