using OpenTelemetry.Proto.Common.V1;
using Trulayer.Otlp.GenAi;
using static Trulayer.Otlp.Tests.GenAi.ConventionFixtures;

namespace Trulayer.Otlp.Tests.GenAi;

/// <summary>
/// Time to first token from each source (the precedence rows themselves are covered with the rest of the
/// table in <see cref="GenAiMapperTests"/>): units, the forms of a completion start time, and values that
/// are not usable, which count as absent and never fail the span.
/// </summary>
public sealed class TimeToFirstTokenMappingTests
{
    private const long Second = 1_000_000_000;

    private static long? Ttft(params KeyValue[] attributes) => GenAiMapper.Map(attributes, span: Window).TimeToFirstTokenNanos;

    [Theory]
    [InlineData(0.0, 0L)]
    [InlineData(0.123456789, 123_456_789L)]
    [InlineData(1.5, 1_500_000_000L)]
    [InlineData(10.0, 10 * Second)]
    public void Map_SemConvSeconds_AreNanoseconds(double seconds, long nanos)
        => Assert.Equal(nanos, Ttft(Dbl("gen_ai.response.time_to_first_chunk", seconds)));

    [Fact]
    public void Map_SecondsAsIntegerOrNumericString_AreAccepted()
    {
        Assert.Equal(2 * Second, Ttft(Int("gen_ai.response.time_to_first_chunk", 2)));
        Assert.Equal(250_000_000L, Ttft(Str("gen_ai.response.time_to_first_chunk", "0.25")));
        Assert.Equal(25_000_000L, Ttft(Str("ai.response.msToFirstChunk", "25")));
    }

    [Theory]
    [InlineData("2025-01-01T00:00:01.5Z", 1_500_000_000L)]                  // the Langfuse JS SDK: Date.toISOString()
    [InlineData("\"2025-01-01T00:00:00.123456+00:00\"", 123_456_000L)]      // the Langfuse Python SDK: json.dumps(datetime)
    [InlineData("2025-01-01T02:00:03+02:00", 3 * Second)]                  // an offset
    [InlineData("2025-01-01T00:00:04.000000007Z", 4 * Second + 7)]         // nanoseconds (RFC 3339 nano)
    [InlineData("2025-01-01 00:00:00.5", 500_000_000L)]                     // no offset: UTC
    [InlineData("1735689602", 2 * Second)]                                  // Unix seconds as text
    public void Map_CompletionStartTime_IsItsDistanceFromTheSpanStart(string completionStart, long nanos)
        => Assert.Equal(nanos, Ttft(Str("langfuse.observation.completion_start_time", completionStart)));

    [Theory]
    [InlineData(1_735_689_601.25, 1_250_000_000L)]            // Unix seconds
    [InlineData(1_735_689_601_250.0, 1_250_000_000L)]         // Unix milliseconds (Date.getTime())
    [InlineData(1_735_689_601_250_000.0, 1_250_000_000L)]     // Unix microseconds
    public void Map_CompletionStartTimeAsANumber_TakesItsUnitFromItsSize(double unix, long nanos)
        => Assert.Equal(nanos, Ttft(Dbl("langfuse.observation.completion_start_time", unix)));

    [Fact]
    public void Map_CompletionStartTimeInUnixNanoseconds_IsExact()
        => Assert.Equal(1_234_567_891L, Ttft(Int("langfuse.observation.completion_start_time", Window.StartUnixNano + 1_234_567_891)));

    [Theory]
    [InlineData("2024-12-31T23:59:59.999Z")]    // before the span started
    [InlineData("2025-01-01T00:00:10.001Z")]    // after it ended
    [InlineData("yesterday")]
    [InlineData("2025-13-01T00:00:00Z")]
    [InlineData("2025-01-01")]
    [InlineData("")]
    [InlineData("\"\"")]
    public void Map_CompletionStartTimeOutsideTheSpanOrNotATime_IsIgnored(string completionStart)
        => Assert.Null(Ttft(Str("langfuse.observation.completion_start_time", completionStart)));

    [Fact]
    public void Map_CompletionStartTimeWithoutTheSpansTimes_IsIgnored()
        => Assert.Null(GenAiMapper.Map([Str("langfuse.observation.completion_start_time", "2025-01-01T00:00:01Z")]).TimeToFirstTokenNanos);

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    [InlineData(-0.001)]
    [InlineData(10.001)]     // longer than the span
    [InlineData(1e7)]        // over a day: a unit mistake
    [InlineData(1e300)]
    public void Map_SecondsNotFiniteNegativeOrAbsurd_AreIgnored(double seconds)
        => Assert.Null(Ttft(Dbl("gen_ai.response.time_to_first_chunk", seconds)));

    [Fact]
    public void Map_WithoutTheSpansTimes_ADayIsTheMost()
    {
        Assert.Equal(86_400 * Second, GenAiMapper.Map([Int("gen_ai.response.time_to_first_chunk", 86_400)]).TimeToFirstTokenNanos);
        Assert.Null(GenAiMapper.Map([Int("gen_ai.response.time_to_first_chunk", 86_401)]).TimeToFirstTokenNanos);
    }

    [Fact]
    public void Map_NotANumber_IsIgnored()
    {
        Assert.Null(Ttft(Str("gen_ai.response.time_to_first_chunk", "fast")));
        Assert.Null(Ttft(Str("ai.response.msToFirstChunk", "NaN")));
        Assert.Null(Ttft(new KeyValue { Key = "gen_ai.response.time_to_first_chunk", Value = new AnyValue { BoolValue = true } }));
        Assert.Null(Ttft(new KeyValue { Key = "gen_ai.response.time_to_first_chunk", Value = new AnyValue() }));
    }

    [Fact]
    public void Map_UnusableBetterRankedValue_LeavesTheNextRowsValueInEitherOrder()
    {
        KeyValue[] attributes = [Dbl("ai.response.msToFirstChunk", 80), Dbl("gen_ai.response.time_to_first_chunk", -1), Str("langfuse.observation.completion_start_time", "soon")];

        Assert.Equal(80_000_000L, Ttft(attributes));
        Assert.Equal(80_000_000L, Ttft([.. attributes.Reverse()]));
    }

    [Fact]
    public void Map_OnlyATimeToFirstToken_FillsNothingElse()
    {
        var fields = GenAiMapper.Map([Dbl("gen_ai.response.time_to_first_chunk", 0.4)], span: Window);

        Assert.Equal(GenAiFields.None, fields with { TimeToFirstTokenNanos = null });
        Assert.Equal(400_000_000L, fields.TimeToFirstTokenNanos);
    }

    [Fact]
    public void MappedAttributes_EveryTimeToFirstTokenAttribute_IsRead()
        => Assert.All(GenAiPrecedence.For(GenAiField.TimeToFirstToken), key => Assert.True(MappedAttributes.IsMapped(key), key));
}
