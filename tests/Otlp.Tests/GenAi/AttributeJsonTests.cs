using System.Text.Json;
using Google.Protobuf;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using Trulayer.Otlp.GenAi;

namespace Trulayer.Otlp.Tests.GenAi;

public sealed class AttributeJsonTests
{
    [Fact]
    public void ToJson_EveryValueType_IsPlainJson()
    {
        KeyValue[] attributes =
        [
            new() { Key = "s", Value = new AnyValue { StringValue = "héllo \"quoted\"" } },
            new() { Key = "b", Value = new AnyValue { BoolValue = false } },
            new() { Key = "i", Value = new AnyValue { IntValue = long.MaxValue } },
            new() { Key = "d", Value = new AnyValue { DoubleValue = 0.5 } },
            new() { Key = "bytes", Value = new AnyValue { BytesValue = ByteString.CopyFromUtf8("hi") } },
            new() { Key = "a", Value = new AnyValue { ArrayValue = new ArrayValue { Values = { new AnyValue { IntValue = 1 }, new AnyValue { StringValue = "x" } } } } },
            new() { Key = "m", Value = new AnyValue { KvlistValue = new KeyValueList { Values = { new KeyValue { Key = "k", Value = new AnyValue { BoolValue = true } } } } } },
            new() { Key = "none" },
        ];

        Assert.Equal(
            "{\"s\":\"héllo \\\"quoted\\\"\",\"b\":false,\"i\":9223372036854775807,\"d\":0.5,\"bytes\":\"aGk=\",\"a\":[1,\"x\"],\"m\":{\"k\":true},\"none\":null}",
            AttributeJson.ToJson(attributes));
    }

    [Fact]
    public void ToJson_NulCharactersAndNonFiniteNumbers_StayValidForJsonb()
    {
        KeyValue[] attributes =
        [
            new() { Key = "key\0", Value = new AnyValue { StringValue = "a\0b" } },
            new() { Key = "nan", Value = new AnyValue { DoubleValue = double.NaN } },
            new() { Key = "inf", Value = new AnyValue { DoubleValue = double.NegativeInfinity } },
        ];

        using var json = JsonDocument.Parse(AttributeJson.ToJson(attributes));

        Assert.Equal("a\uFFFDb", json.RootElement.GetProperty("key\uFFFD").GetString());
        Assert.Equal("NaN", json.RootElement.GetProperty("nan").GetString());
        Assert.Equal("-Infinity", json.RootElement.GetProperty("inf").GetString());
    }

    [Fact]
    public void WriteObject_ExcludedKeys_AreLeftOut()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = AttributeJson.CreateWriter(buffer))
        {
            AttributeJson.WriteObject(writer,
                [new KeyValue { Key = "gen_ai.prompt", Value = new AnyValue { StringValue = "long prompt" } }, new KeyValue { Key = "keep", Value = new AnyValue { IntValue = 1 } }],
                GenAiPrecedence.IsContent);
        }

        Assert.Equal("{\"keep\":1}", System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    [Theory]
    [InlineData("gen_ai.prompt", true)]
    [InlineData("gen_ai.output.messages", true)]
    [InlineData("input.value", true)]
    [InlineData("gen_ai.usage.input_tokens", false)]
    [InlineData("http.route", false)]
    public void IsContent_MarksPromptAndCompletionAttributes(string key, bool content) => Assert.Equal(content, GenAiPrecedence.IsContent(key));

    [Fact]
    public void ServiceName_IsTheResourcesServiceNameString()
    {
        Assert.Equal("checkout", ResourceConventions.ServiceName(new Resource { Attributes = { new KeyValue { Key = "service.name", Value = new AnyValue { StringValue = "checkout" } } } }));
        Assert.Null(ResourceConventions.ServiceName(new Resource { Attributes = { new KeyValue { Key = "service.name", Value = new AnyValue { IntValue = 3 } } } }));
        Assert.Null(ResourceConventions.ServiceName(new Resource { Attributes = { new KeyValue { Key = "host.name", Value = new AnyValue { StringValue = "h" } } } }));
        Assert.Null(ResourceConventions.ServiceName(null));
    }
}
