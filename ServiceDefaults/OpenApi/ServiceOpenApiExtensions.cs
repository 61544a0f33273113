using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Trulayer.ServiceDefaults.OpenApi;

namespace Microsoft.Extensions.Hosting;

/// <summary>A service's own OpenAPI document (<see cref="ServiceOpenApi"/>): one line to register it, one to serve it.</summary>
public static class ServiceOpenApiExtensions
{
    /// <summary>Registers the service's document; <paramref name="policies"/> is Auth.Api's access table (the only service that has one).</summary>
    public static IHostApplicationBuilder AddServiceOpenApi(this IHostApplicationBuilder builder, IEnumerable<DocumentedPolicy>? policies = null)
    {
        var documented = policies?.ToList() ?? [];
        builder.Services.AddOpenApi(ServiceOpenApi.DocumentName, options =>
        {
            options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            options.AddOperationTransformer((operation, context, _) =>
            {
                var policy = context.Description.ActionDescriptor.EndpointMetadata
                    .OfType<IAuthorizeData>().Select(a => a.Policy).LastOrDefault(p => !string.IsNullOrEmpty(p));
                foreach (var parameter in context.Description.ActionDescriptor.EndpointMetadata.OfType<DocumentedQuery>().SelectMany(q => q.Parameters))
                {
                    operation.Parameters ??= [];
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = parameter.Name,
                        In = ParameterLocation.Query,
                        Required = parameter.Required,
                        Description = parameter.Description,
                        Schema = new OpenApiSchema { Type = parameter.Type switch
                        {
                            "integer" => JsonSchemaType.Integer,
                            "number" => JsonSchemaType.Number,
                            "boolean" => JsonSchemaType.Boolean,
                            _ => JsonSchemaType.String,
                        }, Format = parameter.Format },
                    });
                }

                if (policy is not null)
                {
                    operation.Extensions ??= new Dictionary<string, IOpenApiExtension>();
                    operation.Extensions[ServiceOpenApi.PolicyExtension] = new JsonNodeExtension(JsonValue.Create(policy));
                }

                return Task.CompletedTask;
            });
            if (documented.Count > 0)
            {
                options.AddDocumentTransformer((document, _, _) =>
                {
                    var table = new JsonObject();
                    foreach (var policy in documented)
                    {
                        table[policy.Name] = new JsonObject
                        {
                            ["apiKeys"] = policy.AllowsApiKeys,
                            ["roles"] = new JsonArray([.. policy.SessionRoles.Select(r => JsonValue.Create(r))]),
                        };
                    }

                    document.Extensions ??= new Dictionary<string, IOpenApiExtension>();
                    document.Extensions[ServiceOpenApi.PoliciesExtension] = new JsonNodeExtension(table);
                    return Task.CompletedTask;
                });
            }
        });
        return builder;
    }

    /// <summary>Documents query parameters the handler reads by itself (the document cannot see them otherwise).</summary>
    public static TBuilder WithQueryParameters<TBuilder>(this TBuilder builder, params DocumentedQueryParameter[] parameters)
        where TBuilder : IEndpointConventionBuilder
        => builder.WithMetadata(new DocumentedQuery(parameters));

    /// <summary>Serves the document at <see cref="ServiceOpenApi.DocumentPath"/>.</summary>
    public static IEndpointConventionBuilder MapServiceOpenApi(this IEndpointRouteBuilder app)
        => app.MapOpenApi(ServiceOpenApi.DocumentPath.Replace($"/{ServiceOpenApi.DocumentName}.json", "/{documentName}.json", StringComparison.Ordinal));
}
