using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Trulayer.Gateway.OpenApi;
using Trulayer.ServiceDefaults.OpenApi;

namespace Trulayer.Gateway.Tests;

/// <summary>The merge by itself, on documents shaped like the services' (no stack needed).</summary>
public sealed class OpenApiMergeTests
{
    private static readonly GatewayRoute[] Routes =
    [
        new("traces", "GET", "/v1/traces", "export", GatewayRoutes.ExportPolicy, ErrorStyle.Json),
        new("spans", "GET", "/v1/spans", "export", GatewayRoutes.ExportPolicy, ErrorStyle.Json),
        new("projects", "", "/v1/projects/{**rest}", "auth", GatewayRoutes.SignedInPolicy, ErrorStyle.Json),
        new("otlp-grpc-export", "POST", GatewayRoutes.GrpcExportPath, "ingest-grpc", GatewayRoutes.IngestPolicy, ErrorStyle.Grpc, Grpc: true),
    ];

    [Fact]
    public void Merge_RouteItsServiceDoesNotDocument_IsNamed()
    {
        var merged = PublicApiDocument.Merge(Routes, [Export(), Auth()]);

        var missing = Assert.Single(merged.Undocumented);
        Assert.Contains("GET /v1/spans (gateway route 'spans', service 'export')", missing, StringComparison.Ordinal);
        Assert.False(merged.IsComplete);
    }

    [Fact]
    public void Merge_InternalOperations_AreLeftOut()
    {
        var merged = PublicApiDocument.Merge(Routes, [Export(), Auth()]);

        var paths = merged.Document["paths"]!.AsObject().Select(p => p.Key).ToList();
        Assert.Equal(["/v1/projects", "/v1/projects/{projectId}", "/v1/traces"], paths);
        Assert.Null(merged.Document["components"]!["schemas"]!["VerifyResponse"]);
        Assert.NotNull(merged.Document["components"]!["schemas"]!["Page"]);
    }

    [Fact]
    public void Merge_AuthOperation_TakesItsOwnPolicysRoles()
    {
        var merged = PublicApiDocument.Merge(Routes, [Export(), Auth()]);

        var create = merged.Document["paths"]!["/v1/projects"]!["post"]!;
        Assert.Equal(["owner", "member"], create[PublicApiDocument.RolesExtension]!.AsArray().Select(r => (string)r!));
        Assert.Contains("sessions of owner or member", (string)create["description"]!, StringComparison.Ordinal);
        var list = merged.Document["paths"]!["/v1/traces"]!["get"]!;
        Assert.Equal(["owner", "member", "viewer"], list[PublicApiDocument.RolesExtension]!.AsArray().Select(r => (string)r!));
        Assert.Equal("#/components/responses/Unauthorized", (string)list["responses"]!["401"]!["$ref"]!);
    }

    [Fact]
    public void Merge_ServiceDown_ServesTheRestAndSaysSo()
    {
        var merged = PublicApiDocument.Merge(Routes, [new ServiceDocument("export", null, "connection refused"), Auth()]);

        Assert.Equal(["export: connection refused"], merged.Unavailable);
        Assert.Contains(merged.Undocumented, u => u.Contains("'traces'", StringComparison.Ordinal) && u.Contains("connection refused", StringComparison.Ordinal));
        Assert.NotNull(merged.Document["paths"]!["/v1/projects"]);
        Assert.Equal("export: connection refused", (string)merged.Document[PublicApiDocument.UnavailableExtension]![0]!);
    }

    [Fact]
    public void Merge_SchemaNameClash_RenamesTheLaterServicesSchema()
    {
        var merged = PublicApiDocument.Merge(Routes, [Export(), Auth(clashing: true)]);

        var schemas = merged.Document["components"]!["schemas"]!.AsObject();
        Assert.NotNull(schemas["Page"]);
        Assert.NotNull(schemas["AuthPage"]);
        Assert.Equal("#/components/schemas/AuthPage", (string)merged.Document["paths"]!["/v1/projects"]!["get"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!["$ref"]!);
    }

    [Fact]
    public async Task ServiceDocument_DeclaredQueryParametersAndPolicy_AreDocumented()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddAuthorization(options => options.AddPolicy("reader", p => p.RequireAssertion(_ => true)));
        builder.AddServiceOpenApi([new DocumentedPolicy("reader", false, ["viewer"])]);
        await using var app = builder.Build();
        app.MapServiceOpenApi();
        app.MapGet("/v1/things", (HttpRequest request) => TypedResults.Ok(request.Query["from"].ToString()))
            .RequireAuthorization("reader")
            .WithQueryParameters(new DocumentedQueryParameter("from", "start", Format: "date-time", Required: true), new("limit", "most", "integer"));
        await app.StartAsync();
        try
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var http = new HttpClient();
            var document = JsonNode.Parse(await http.GetStringAsync(address + ServiceOpenApi.DocumentPath))!;

            var operation = document["paths"]!["/v1/things"]!["get"]!;
            Assert.Equal("reader", (string)operation[ServiceOpenApi.PolicyExtension]!);
            var parameters = operation["parameters"]!.AsArray();
            Assert.Equal(["from", "limit"], parameters.Select(p => (string)p!["name"]!));
            Assert.True((bool)parameters[0]!["required"]!);
            Assert.Equal("integer", (string)parameters[1]!["schema"]!["type"]!);
            Assert.Equal(["viewer"], document[ServiceOpenApi.PoliciesExtension]!["reader"]!["roles"]!.AsArray().Select(r => (string)r!));
        }
        finally
        {
            await app.StopAsync();
        }
    }

    [Theory]
    [InlineData("/v1/projects/{**rest}", "/v1/projects", true)]
    [InlineData("/v1/projects/{**rest}", "/v1/projects/{id}/content-policy", true)]
    [InlineData("/v1/traces/{traceId}", "/v1/traces/{id}", true)]
    [InlineData("/v1/traces/{traceId}", "/v1/traces/{id}/logs", false)]
    [InlineData("/v1/traces", "/v1/traces/{id}", false)]
    [InlineData("/v1/traces/{traceId}", "/v1/traces", false)]
    public void Specificity_GatewayTemplate_MatchesDocumentTemplate(string template, string path, bool matches)
        => Assert.Equal(matches, PublicApiDocument.Specificity(template, path) is not null);

    private static ServiceDocument Export() => new("export", Document("""
        {
          "paths": {
            "/v1/traces": { "get": { "x-trulayer-policy": "dashboard-session", "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Page" } } } } } } },
            "/health": { "get": { "responses": { "200": { "description": "OK" } } } }
          },
          "components": { "schemas": { "Page": { "type": "object", "properties": { "traces": { "type": "array" } } } } }
        }
        """), null);

    private static ServiceDocument Auth(bool clashing = false) => new("auth", Document($$"""
        {
          "paths": {
            "/v1/projects": {
              "get": { "x-trulayer-policy": "organization-read", "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Page" } } } } } },
              "post": { "x-trulayer-policy": "organization-write", "responses": { "201": { "description": "Created" } } }
            },
            "/v1/projects/{projectId}": { "delete": { "x-trulayer-policy": "organization-admin", "responses": { "204": { "description": "No Content" } } } },
            "/v1/auth/verify": { "post": { "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/VerifyResponse" } } } } } } }
          },
          "components": { "schemas": { "Page": { "type": "object", "properties": { "{{(clashing ? "projects" : "traces")}}": { "type": "array" } } }, "VerifyResponse": { "type": "object" } } },
          "x-trulayer-policies": {
            "export": { "apiKeys": false, "roles": [ "owner", "member", "viewer" ] },
            "signed-in": { "apiKeys": false, "roles": [ "owner", "member", "viewer" ] },
            "organization-read": { "apiKeys": false, "roles": [ "owner", "member", "viewer" ] },
            "organization-write": { "apiKeys": false, "roles": [ "owner", "member" ] },
            "organization-admin": { "apiKeys": false, "roles": [ "owner" ] }
          }
        }
        """), null);

    private static JsonObject Document(string json) => (JsonObject)JsonNode.Parse(json)!;
}
