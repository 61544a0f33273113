using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Trulayer.Processor.Pricing;
using Trulayer.ServiceDefaults.Http;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Processor.Api;

/// <summary>One row of the effective price table: the organization's own (<c>organization</c>) or the repository's (<c>repository</c>).</summary>
internal sealed record ModelPriceView(
    string Model, string? Provider, string Source, string? Pattern, DateTime? From,
    decimal? Input, decimal? Output, decimal? CacheRead, decimal? CacheWrite, decimal? Reasoning,
    DateTime? UpdatedAt, string? UpdatedBy)
{
    public static ModelPriceView Of(PriceOverride o) => new(
        o.Model, null, ModelPriceApi.OrganizationSource, o.Pattern, null,
        o.Price.Input, o.Price.Output, o.Price.CacheRead, o.Price.CacheWrite, o.Price.Reasoning, o.UpdatedAt, o.UpdatedBy);
}

internal sealed record ModelPriceTableView(string RepositorySource, int RefreshSeconds, IReadOnlyList<ModelPriceView> Prices);

/// <summary>
/// <c>GET /v1/model-prices</c> (owner, member, viewer): the organization's overrides, then the repository's
/// table less the models an override of the same name replaces; <c>PUT</c> and <c>DELETE
/// /v1/model-prices/{model}</c> (owner, member): the organization's override of one model, applied to spans
/// stored after the change (README.md, "Cost").
/// </summary>
internal static class ModelPriceApi
{
    public const string OrganizationSource = "organization", RepositorySource = "repository";

    /// <summary>USD per million tokens; a bound that catches a price given per token by mistake the other way.</summary>
    public const decimal MaxPrice = 1_000_000m;

    public const int MaxModelLength = 256, MaxPatternLength = 256;

    private static readonly string[] PriceFields = ["input", "output", "cacheRead", "cacheWrite", "reasoning"];

    public static IEndpointRouteBuilder MapModelPriceApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/model-prices").RequireAuthorization(ProcessorApi.SessionPolicy);
        group.MapGet("", ListAsync);
        group.MapPut("/{model}", PutAsync);
        group.MapDelete("/{model}", DeleteAsync);
        return app;
    }

    internal static async Task<Results<Ok<ModelPriceTableView>, JsonHttpResult<ErrorResponse>>> ListAsync(
        HttpContext context, CallerIdentity caller, PriceOverrides overrides, IOptions<ProcessorOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        if (new QueryReader(context.Request.Query).Unexpected() is { } bad)
        {
            return ProcessorApi.BadRequest(bad);
        }

        var own = await overrides.ListAsync(caller.OrganizationId, cancellationToken);
        var replaced = own.Where(o => o.Pattern is null).Select(o => o.Model).ToHashSet(StringComparer.Ordinal);
        var table = ModelPriceTable.Default;
        var prices = own.Select(ModelPriceView.Of)
            .Concat(table.Entries(time.GetUtcNow().UtcDateTime)
                .Where(e => !replaced.Contains(e.ModelId))
                .Select(e => new ModelPriceView(e.ModelId, e.Provider, RepositorySource, null, e.Price.From,
                    e.Price.Input, e.Price.Output, e.Price.CacheRead, e.Price.CacheWrite, e.Price.Reasoning, null, null)));
        return TypedResults.Ok(new ModelPriceTableView(table.Source, (int)Math.Ceiling(options.Value.PriceOverridesRefresh.TotalSeconds), [.. prices]));
    }

    internal static async Task<Results<Ok<ModelPriceView>, Created<ModelPriceView>, JsonHttpResult<ErrorResponse>>> PutAsync(
        string model, HttpContext context, CallerIdentity caller, PriceOverrides overrides, CancellationToken cancellationToken)
    {
        if (ProcessorApi.Refuse(caller, "change model prices", Roles.Owner, Roles.Member) is { } refused)
        {
            return refused;
        }

        if (CheckModel(model, out var name) is { } badModel)
        {
            return ProcessorApi.BadRequest(badModel);
        }

        JsonDocument body;
        try
        {
            body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: cancellationToken);
        }
        catch (JsonException ex)
        {
            return ProcessorApi.BadRequest($"the body is not JSON: {ex.Message}");
        }

        using (body)
        {
            var (entry, error) = Read(body.RootElement, name, caller.Subject);
            if (entry is null)
            {
                return ProcessorApi.BadRequest(error!);
            }

            var existed = await overrides.PutAsync(caller.OrganizationId, entry, cancellationToken);
            var stored = (await overrides.ListAsync(caller.OrganizationId, cancellationToken)).Single(o => o.Model == name);
            return existed
                ? TypedResults.Ok(ModelPriceView.Of(stored))
                : TypedResults.Created($"/v1/model-prices/{Uri.EscapeDataString(name)}", ModelPriceView.Of(stored));
        }
    }

    internal static async Task<Results<NoContent, JsonHttpResult<ErrorResponse>>> DeleteAsync(
        string model, CallerIdentity caller, PriceOverrides overrides, CancellationToken cancellationToken)
    {
        if (ProcessorApi.Refuse(caller, "change model prices", Roles.Owner, Roles.Member) is { } refused)
        {
            return refused;
        }

        if (CheckModel(model, out var name) is { } badModel)
        {
            return ProcessorApi.BadRequest(badModel);
        }

        return await overrides.DeleteAsync(caller.OrganizationId, name, cancellationToken)
            ? TypedResults.NoContent()
            : ProcessorApi.NotFound($"your organization has no price of its own for model '{name}' (the repository's prices cannot be deleted, only overridden)");
    }

    private static string? CheckModel(string model, out string name)
    {
        name = model.Trim().ToLowerInvariant();
        if (name.Length is 0 or > MaxModelLength || name.Any(char.IsControl))
        {
            return $"model '{model}' must be 1 to {MaxModelLength} characters without control characters";
        }

        return null;
    }

    /// <summary>The override the body describes, or the error naming the field that is wrong.</summary>
    private static (PriceOverride? Entry, string? Error) Read(JsonElement body, string model, string? by)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return (null, "the body must be a JSON object: {\"input\": 2.5, \"output\": 10, \"cacheRead\": 1.25, \"cacheWrite\": null, \"reasoning\": null, \"pattern\": null}");
        }

        var prices = new decimal?[PriceFields.Length];
        string? pattern = null;
        foreach (var property in body.EnumerateObject())
        {
            var index = Array.IndexOf(PriceFields, property.Name);
            if (index >= 0)
            {
                if (property.Value.ValueKind == JsonValueKind.Null)
                {
                    continue;
                }

                if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetDecimal(out var price))
                {
                    return (null, $"{property.Name} must be a number (USD per million tokens) or null");
                }

                if (price is < 0 or > MaxPrice)
                {
                    return (null, $"{property.Name} must be from 0 to {MaxPrice:0} USD per million tokens (got {price})");
                }

                prices[index] = price;
            }
            else if (property.Name == "pattern")
            {
                if (property.Value.ValueKind == JsonValueKind.Null)
                {
                    continue;
                }

                if (property.Value.ValueKind != JsonValueKind.String || property.Value.GetString() is not { Length: > 0 and <= MaxPatternLength } text)
                {
                    return (null, $"pattern must be a regular expression of 1 to {MaxPatternLength} characters, or null");
                }

                try
                {
                    PriceOverride.CompilePattern(text);
                }
                catch (ArgumentException ex)
                {
                    return (null, $"pattern '{text}' is not a valid regular expression: {ex.Message}");
                }

                pattern = text;
            }
            else
            {
                return (null, $"unknown field '{property.Name}': a price takes {string.Join(", ", PriceFields)} and pattern");
            }
        }

        if (prices.All(p => p is null))
        {
            return (null, $"give at least one price ({string.Join(", ", PriceFields)}), in USD per million tokens");
        }

        return (new PriceOverride(model, pattern, new ModelPrice(null, prices[0], prices[1], prices[2], prices[3], prices[4]), default, by), null);
    }
}
