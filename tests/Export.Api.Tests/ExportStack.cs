using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.AppHost.Run;
using Trulayer.Export.Http;
using Trulayer.Otlp.Json;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Export.Tests;

/// <summary>
/// The whole stack from the AppHost's graph (gateway, Auth.Api with its dev issuer, ingest, the real
/// processor, export, PostgreSQL, the dev broker), shared by the export tests. Spans go in through the
/// gateway as a client sends them and are stored by the processor; they come out through the gateway,
/// or straight from Export.Api with a signed identity assertion where a test needs many requests or an
/// identity the gateway would not forward.
/// </summary>
public sealed class ExportStack : StackFixture
{
    private IdentityAssertionSigner? _signer;
    private Task<LoadedProject>? _twentyFiveThousand;
    private readonly Dictionary<string, object> _shared = [];
    private NpgsqlDataSource? _database;

    public string Owner => Dev.Sessions!["owner"];

    public Uri Export => App.GetEndpoint("export");

    public NpgsqlDataSource Database => _database ?? throw new InvalidOperationException("the stack has not started");

    /// <summary>Compressed pages stay compressed: the tests read what the service sent.</summary>
    protected override HttpClient CreateHttpClient()
        => new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None }) { Timeout = TimeSpan.FromSeconds(120) };

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _signer = new IdentityAssertionSigner(
            Options.Create(new IdentityOptions { AssertionKey = App.GetEnvironment("export")["Identity__AssertionKey"] }), TimeProvider.System);
        _database = NpgsqlDataSource.Create(App.GetConnectionString("postgres"));
    }

    public override async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        await base.DisposeAsync();
    }


    /// <summary>A GET straight to Export.Api as <paramref name="caller"/> (no assertion when null).</summary>
    public async Task<HttpResponseMessage> GetDirectAsync(string pathAndQuery, CallerIdentity? caller, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Export, pathAndQuery));
        if (caller is not null)
        {
            request.Headers.Add(IdentityAssertion.HeaderName, _signer!.Sign(caller));
        }

        configure?.Invoke(request);
        return await Http.SendAsync(request);
    }

    public static CallerIdentity Viewer(Tenant tenant, params Guid[] extraProjects)
        => new(CallerKind.Session, tenant.Organization, [tenant.Project, .. extraProjects], Roles.Viewer, tenant.User);

    /// <summary>A session token for any user from Auth.Api's dev issuer (an internal route, called directly).</summary>
    public async Task<string> MintSessionAsync(string userId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(App.GetEndpoint("auth"), "/v1/auth/dev/token"))
        {
            Content = JsonContent.Create(new { userId }),
        };
        request.Headers.Add("X-Trulayer-Internal-Key", App.GetEnvironment("auth")["Auth__InternalKey"]);
        using var response = await Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
    }

    /// <summary>A new tenant: a person who creates an organization with a project and an API key, through the gateway.</summary>
    public async Task<Tenant> NewTenantAsync()
    {
        var user = "export_" + Guid.NewGuid().ToString("N")[..8];
        var session = await MintSessionAsync(user);
        var organization = (await SendJsonAsync("/v1/organizations", session, new { name = "Org " + user })).GetProperty("id").GetGuid();
        var project = (await SendJsonAsync("/v1/projects", session, new { name = "traces" })).GetProperty("id").GetGuid();
        var key = (await SendJsonAsync("/v1/api-keys", session, new { name = "sdk", projectId = project.ToString() })).GetProperty("key").GetString()!;
        return new Tenant(user, session, organization, project, key);
    }

    private async Task<JsonElement> SendJsonAsync(string path, string session, object body)
    {
        using var response = await SendAsync(HttpMethod.Post, path, session, JsonContent.Create(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Sends <paramref name="request"/> through the gateway with <paramref name="apiKey"/>; every span must be accepted.</summary>
    public async Task IngestAsync(string apiKey, ExportTraceServiceRequest request)
    {
        using var content = new ByteArrayContent(request.ToByteArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        using var response = await SendAsync(HttpMethod.Post, "/v1/otlp/traces", apiKey, content);
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"ingest answered {(int)response.StatusCode}");
        var answer = ExportTraceServiceResponse.Parser.ParseFrom(body);
        Assert.True(answer.PartialSuccess is null || answer.PartialSuccess.RejectedSpans == 0, answer.PartialSuccess?.ErrorMessage);
    }

    /// <summary>Sends OTLP/JSON as it is (an export body, say) through the gateway with <paramref name="apiKey"/>.</summary>
    public async Task IngestJsonAsync(string apiKey, byte[] json)
    {
        using var content = new ByteArrayContent(json);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await SendAsync(HttpMethod.Post, "/v1/otlp/traces", apiKey, content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"ingest answered {(int)response.StatusCode} {text}");
        Assert.DoesNotContain("rejectedSpans", text, StringComparison.Ordinal);
    }

    /// <summary>Waits until the processor has stored <paramref name="count"/> spans of <paramref name="project"/>.</summary>
    public async Task WaitForSpansAsync(Guid project, long count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        long stored = 0;
        while (DateTime.UtcNow < deadline)
        {
            await using var command = Database.CreateCommand("SELECT count(*) FROM telemetry.spans WHERE project_id = $1");
            command.Parameters.Add(new NpgsqlParameter { Value = project });
            stored = (long)(await command.ExecuteScalarAsync())!;
            if (stored >= count)
            {
                Assert.Equal(count, stored);
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"the processor stored {stored} of {count} spans of project {project}");
    }

    /// <summary>
    /// A tenant whose project holds 25,000 lean spans (three requests of 10,000, 10,000 and 5,000), loaded
    /// once for the tests that page through them.
    /// </summary>
    public Task<LoadedProject> TwentyFiveThousandSpansAsync() => _twentyFiveThousand ??= LoadAsync();

    /// <summary>Data a test class loads once and its tests share (the tests of a collection run one at a time).</summary>
    public Task<T> SharedAsync<T>(string name, Func<Task<T>> load)
    {
        if (!_shared.TryGetValue(name, out var loading))
        {
            loading = load();
            _shared[name] = loading;
        }

        return (Task<T>)loading;
    }

    private async Task<LoadedProject> LoadAsync()
    {
        var tenant = await NewTenantAsync();
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        var keys = new HashSet<string>();
        foreach (var (spans, offset) in new[] { (10_000, 0), (10_000, 1), (5_000, 2) })
        {
            var batch = Trulayer.Workload.StandardBatch.Lean(spans: spans, traces: spans / 100, start: start.AddSeconds(offset));
            keys.UnionWith(PagingTests.Keys(batch));
            await IngestAsync(tenant.ApiKey, batch);
        }

        await WaitForSpansAsync(tenant.Project, keys.Count);
        return new LoadedProject(tenant, start, keys);
    }

    /// <summary>Pages through an export straight from Export.Api, each page parsed; stops when no X-Next-Cursor comes.</summary>
    public async Task<List<ExportedPage>> ExportAllAsync(CallerIdentity caller, string query, int maxPages = 100_000, string? cursor = null)
    {
        var pages = new List<ExportedPage>();
        do
        {
            using var response = await GetDirectAsync($"{ExportApi.ExportPath}?{query}" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}"), caller);
            var body = await response.Content.ReadAsByteArrayAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"page {pages.Count + 1}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(body)}");
            cursor = response.Headers.TryGetValues(ExportApi.NextCursorHeader, out var values) ? values.Single() : null;
            pages.Add(new ExportedPage(OtlpJson.ParseTracesData(body), cursor));
        }
        while (cursor is not null && pages.Count < maxPages);

        return pages;
    }
}

public sealed record LoadedProject(Tenant Tenant, DateTimeOffset Start, HashSet<string> Keys)
{
    public string Window => RoundTripTests.Window(Start);
}

public sealed record Tenant(string User, string Session, Guid Organization, Guid Project, string ApiKey);

public sealed record ExportedPage(TracesData Data, string? NextCursor)
{
    public IEnumerable<Span> Spans => Data.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans);
}

[CollectionDefinition(Name)]
public sealed class ExportCollection : ICollectionFixture<ExportStack>
{
    public const string Name = "export stack";
}
