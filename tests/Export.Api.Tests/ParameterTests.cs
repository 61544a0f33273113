using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Trulayer.Export.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Export.Tests;

/// <summary>Bad input is a 400 whose message names the parameter; a cursor is bound to its query and tamper-evident.</summary>
[Collection(ExportCollection.Name)]
public sealed class ParameterTests(ExportStack stack)
{
    private const string Window = "from=2026-04-20T00:00:00Z&to=2026-04-21T00:00:00Z";

    [Theory]
    [InlineData("to=2026-04-21T00:00:00Z", "from is missing")]
    [InlineData("from=2026-04-20T00:00:00Z", "to is missing")]
    [InlineData("from=yesterday&to=2026-04-21T00:00:00Z", "from 'yesterday' is not an RFC 3339 time")]
    [InlineData("from=2026-04-20&to=2026-04-21T00:00:00Z", "from '2026-04-20' is not an RFC 3339 time")]
    [InlineData("from=2026-04-20T00:00:00&to=2026-04-21T00:00:00Z", "with an offset")]
    [InlineData("from=2026-02-30T00:00:00Z&to=2026-04-21T00:00:00Z", "from '2026-02-30T00:00:00Z' is not an RFC 3339 time")]
    [InlineData("from=2026-04-20T00:00:00Z&to=2026-04-21T25:00:00Z", "to '2026-04-21T25:00:00Z' is not")]
    [InlineData("from=2026-04-21T00:00:00Z&to=2026-04-20T00:00:00Z", "to (2026-04-20T00:00:00Z) is before from (2026-04-21T00:00:00Z)")]
    [InlineData("from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z", "over the maximum of 31 days (Export:MaxWindow)")]
    [InlineData(Window + "&project_id=not-a-uuid", "project_id 'not-a-uuid' is not a project id")]
    [InlineData(Window + "&limit=0", "limit '0' is not a whole number from 1 to 10000")]
    [InlineData(Window + "&limit=10001", "limit '10001' is not a whole number from 1 to 10000")]
    [InlineData(Window + "&limit=ten", "limit 'ten' is not a whole number")]
    [InlineData(Window + "&cursor=bm90LWEtY3Vyc29y", "cursor is not one this service issued")]
    [InlineData(Window + "&cursor=%%%", "cursor is not one this service issued")]
    public async Task Export_BadParameter_Is400NamingIt(string query, string message)
    {
        var caller = TestCaller();

        using var response = await stack.GetDirectAsync($"{ExportApi.ExportPath}?{query}", caller);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, await ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_BadParameterThroughTheGateway_Is400WithExportsMessage()
    {
        using var response = await stack.SendAsync(HttpMethod.Get, $"{ExportApi.ExportPath}?to=2026-04-21T00:00:00Z", stack.Owner);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("from is missing", await ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_OffsetWithUnencodedPlus_IsReadAsPlus()
    {
        // An unencoded '+' arrives as a space; the offset still counts.
        using var response = await stack.GetDirectAsync($"{ExportApi.ExportPath}?from=2026-04-20T02:00:00+02:00&to=2026-04-20T03:00:00%2B02:00", TestCaller());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Export_AcceptNamingNoFormatWeWrite_Is406()
    {
        using var response = await stack.GetDirectAsync($"{ExportApi.ExportPath}?{Window}", TestCaller(), r => r.Headers.Add("Accept", "text/csv"));

        Assert.Equal(HttpStatusCode.NotAcceptable, response.StatusCode);
        Assert.Contains("application/x-protobuf", await ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_TamperedCursor_Is400()
    {
        var (caller, query, cursor) = await FirstPageAsync();
        var bytes = System.Buffers.Text.Base64Url.DecodeFromChars(cursor);
        foreach (var position in new[] { 1, 20, bytes.Length / 2, bytes.Length - 1 })
        {
            var altered = (byte[])bytes.Clone();
            altered[position] ^= 0x01;

            using var response = await stack.GetDirectAsync($"{ExportApi.ExportPath}?{query}&cursor={System.Buffers.Text.Base64Url.EncodeToString(altered)}", caller);

            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.StartsWith("cursor is not one this service issued, or it was altered", await ErrorAsync(response), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Export_CursorWithOtherParameters_Is400()
    {
        var (caller, query, cursor) = await FirstPageAsync();
        var project = await stack.TwentyFiveThousandSpansAsync();
        var withAnotherProject = caller with { ProjectIds = [.. caller.ProjectIds, Guid.NewGuid()] };
        (CallerIdentity Caller, string Query)[] others =
        [
            (caller, $"{project.Window}&project_id={project.Tenant.Project}&limit=4"),
            (caller, $"{RoundTripTests.Window(project.Start.AddSeconds(1))}&project_id={project.Tenant.Project}&limit=3"),
            (withAnotherProject, $"{project.Window}&limit=3"),
            (caller with { OrganizationId = Guid.NewGuid() }, query),
        ];

        foreach (var (who, other) in others)
        {
            using var response = await stack.GetDirectAsync($"{ExportApi.ExportPath}?{other}&cursor={cursor}", who);

            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.StartsWith("cursor belongs to another query", await ErrorAsync(response), StringComparison.Ordinal);
        }

        using var same = await stack.GetDirectAsync($"{ExportApi.ExportPath}?{query}&cursor={cursor}", caller);
        Assert.Equal(HttpStatusCode.OK, same.StatusCode);
    }

    [Fact]
    public async Task Export_TraceListCursor_Is400()
    {
        var (caller, _, _) = await FirstPageAsync();
        using var list = await stack.GetDirectAsync($"{ExportApi.TracesPath}?limit=1", caller);
        var listCursor = list.Headers.GetValues(ExportApi.NextCursorHeader).Single();

        using var response = await stack.GetDirectAsync($"{ExportApi.ExportPath}?{Window}&cursor={listCursor}", caller);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("cursor belongs to another query", await ErrorAsync(response), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("status=failed", "status 'failed' is not supported")]
    [InlineData("limit=1001", "limit '1001' is not a whole number from 1 to 1000")]
    [InlineData("from=now", "from 'now' is not an RFC 3339 time")]
    [InlineData("project_id=42", "project_id '42' is not a project id")]
    [InlineData("cursor=abc", "cursor is not one this service issued")]
    public async Task TraceList_BadParameter_Is400NamingIt(string query, string message)
    {
        using var response = await stack.GetDirectAsync($"{ExportApi.TracesPath}?{query}", TestCaller());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, await ErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TraceList_LongFilter_Is400()
    {
        using var response = await stack.GetDirectAsync($"{ExportApi.TracesPath}?q={new string('x', 300)}", TestCaller());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("longer than 256 characters", await ErrorAsync(response), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0af7651916cd43dd8448eb211c80319", "traceId '0af7651916cd43dd8448eb211c80319' is not a trace id")]
    [InlineData("zzf7651916cd43dd8448eb211c80319c", "is not a trace id")]
    public async Task Trace_MalformedId_Is400(string traceId, string message)
    {
        using var response = await stack.GetDirectAsync($"{ExportApi.TracesPath}/{traceId}", TestCaller());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, await ErrorAsync(response), StringComparison.Ordinal);
    }

    /// <summary>A project with a few traces and the first export page of 3 spans, with its cursor.</summary>
    private async Task<(CallerIdentity Caller, string Query, string Cursor)> FirstPageAsync()
    {
        var project = await stack.TwentyFiveThousandSpansAsync();
        var caller = ExportStack.Viewer(project.Tenant);
        var query = $"{project.Window}&project_id={project.Tenant.Project}&limit=3";
        using var response = await stack.GetDirectAsync($"{ExportApi.ExportPath}?{query}", caller);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (caller, query, response.Headers.GetValues(ExportApi.NextCursorHeader).Single());
    }

    private static CallerIdentity TestCaller() => new(CallerKind.Session, Guid.NewGuid(), [Guid.NewGuid()], Roles.Member, "user_params");

    internal static async Task<string> ErrorAsync(HttpResponseMessage response)
        => (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;
}
