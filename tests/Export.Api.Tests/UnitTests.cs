using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Trulayer.Export.Http;
using Trulayer.Export.Output;
using Trulayer.Export.Paging;
using Trulayer.Otlp;

namespace Trulayer.Export.Tests;

public sealed class Rfc3339Tests
{
    [Theory]
    [InlineData("1970-01-01T00:00:00Z", 0L)]
    [InlineData("2026-04-20T00:00:00Z", 1776643200000000000L)]
    [InlineData("2026-04-20T00:00:00.000000001Z", 1776643200000000001L)]
    [InlineData("2026-04-20T00:00:00.123456789123z", 1776643200123456789L)]
    [InlineData("2026-04-20t02:00:00.5+02:00", 1776643200500000000L)]
    [InlineData("2026-04-20T02:00:00 02:00", 1776643200000000000L)]
    [InlineData("2026-04-19T19:30:00-04:30", 1776643200000000000L)]
    [InlineData("1969-12-31T23:59:59.999999999Z", -1L)]
    public void TryParseUnixNanos_Rfc3339_GivesTheInstantToTheNanosecond(string text, long expected)
    {
        Assert.True(Rfc3339.TryParseUnixNanos(text, out var nanos));
        Assert.Equal(expected, nanos);
    }

    [Theory]
    [InlineData("2026-04-20")]
    [InlineData("2026-04-20T00:00:00")]
    [InlineData("2026-04-20T00:00Z")]
    [InlineData("2026-13-01T00:00:00Z")]
    [InlineData("2026-02-29T00:00:00Z")]
    [InlineData("2026-04-20T24:00:00Z")]
    [InlineData("2026-04-20T00:00:00+24:00")]
    [InlineData("2300-01-01T00:00:00Z")]
    [InlineData("1600-01-01T00:00:00Z")]
    [InlineData("1776643200")]
    [InlineData(" 2026-04-20T00:00:00Z")]
    public void TryParseUnixNanos_NotRfc3339OrOutOfRange_IsFalse(string text)
    {
        Assert.False(Rfc3339.TryParseUnixNanos(text, out _));
    }

    [Fact]
    public void Format_RoundTrips()
    {
        Assert.Equal("2026-04-20T00:00:00.000000001Z", Rfc3339.Format(1776643200000000001L));
        Assert.True(Rfc3339.TryParseUnixNanos(Rfc3339.Format(1234567890123456789L), out var back));
        Assert.Equal(1234567890123456789L, back);
    }
}

public sealed class OtlpFormatTests
{
    [Theory]
    [InlineData(null, "Json")]
    [InlineData("", "Json")]
    [InlineData("*/*", "Json")]
    [InlineData("application/json", "Json")]
    [InlineData("application/x-protobuf", "Protobuf")]
    [InlineData("application/protobuf", "Protobuf")]
    [InlineData("application/json, application/x-protobuf", "Protobuf")]
    [InlineData("application/json, application/x-protobuf;q=0.5", "Json")]
    [InlineData("application/x-protobuf;q=0.9, */*;q=0.1", "Protobuf")]
    [InlineData("text/html, */*;q=0.8", "Json")]
    [InlineData("text/csv", null)]
    [InlineData("application/x-protobuf;q=0", null)]
    public void Negotiate_Accept_PicksTheFormat(string? accept, string? expected)
    {
        Assert.Equal(expected, OtlpFormats.Negotiate(accept is null ? StringValues.Empty : new StringValues(accept))?.ToString());
    }
}

public sealed class CursorProtectorTests
{
    private static readonly CursorProtector Protector = new(Options.Create(new ExportOptions { CursorKey = Convert.ToBase64String(new byte[32]) }));

    [Fact]
    public void Unprotect_ItsOwnCursor_GivesThePayloadBack()
    {
        var binding = new QueryBinding().Add("from", 1L).Add("projects", [Guid.NewGuid()]).Hash();
        var position = new ExportPosition(new SpanKey(123, Guid.NewGuid(), -5, Guid.NewGuid()), "100:104:101,103");

        var cursor = Protector.Protect(CursorKind.Export, binding, position.ToPayload());

        Assert.Equal(CursorCheck.Valid, Protector.Unprotect(cursor, CursorKind.Export, binding, out var payload));
        Assert.Equal(position, ExportPosition.FromPayload(payload));
    }

    [Fact]
    public void Unprotect_OtherBindingOrKind_IsOtherQuery()
    {
        var binding = new QueryBinding().Add("limit", 7).Hash();
        var cursor = Protector.Protect(CursorKind.Export, binding, [1, 2, 3]);

        Assert.Equal(CursorCheck.OtherQuery, Protector.Unprotect(cursor, CursorKind.Export, new QueryBinding().Add("limit", 8).Hash(), out _));
        Assert.Equal(CursorCheck.OtherQuery, Protector.Unprotect(cursor, CursorKind.TraceList, binding, out _));
    }

    [Fact]
    public void Unprotect_AnotherKeysCursor_IsAltered()
    {
        var other = new CursorProtector(Options.Create(new ExportOptions { CursorKey = Convert.ToBase64String(Enumerable.Repeat((byte)1, 32).ToArray()) }));
        var binding = new QueryBinding().Hash();

        Assert.Equal(CursorCheck.Altered, Protector.Unprotect(other.Protect(CursorKind.Export, binding, [1]), CursorKind.Export, binding, out _));
        Assert.Equal(CursorCheck.Altered, Protector.Unprotect("", CursorKind.Export, binding, out _));
    }

    [Fact]
    public void Compare_OrdersUuidsAsPostgreSqlDoes()
    {
        // Guid.CompareTo orders by its first field as a number; PostgreSQL compares the 16 bytes in text order.
        var a = Guid.Parse("00000001-0000-0000-0000-000000000002");
        var b = Guid.Parse("00000000-ffff-0000-0000-000000000001");

        Assert.True(Micros.CompareUuid(a, b) > 0);
        Assert.True(Micros.CompareUuid(Guid.Parse("00000000-0000-0000-0000-0000000000ff"), Guid.Parse("00000000-0000-0000-0100-000000000000")) < 0);
    }
}
