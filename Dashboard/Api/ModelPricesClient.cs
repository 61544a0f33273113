namespace Trulayer.Dashboard.Api;

/// <summary>A row of GET /v1/model-prices: an organization's override or a repository price (USD per million tokens).</summary>
public sealed record ModelPrice(
    string Model, string? Provider, string Source, string? Pattern, string? From, decimal? Input, decimal? Output,
    decimal? CacheRead, decimal? CacheWrite, decimal? Reasoning, DateTimeOffset? UpdatedAt, string? UpdatedBy)
{
    public bool IsOrganizations => Source == "organization";
}

public sealed record ModelPriceTable(string RepositorySource, int RefreshSeconds, IReadOnlyList<ModelPrice> Prices);

/// <summary>PUT /v1/model-prices/{model}'s body: every price optional, at least one given.</summary>
public sealed record ModelPriceChange(decimal? Input, decimal? Output, decimal? CacheRead, decimal? CacheWrite, decimal? Reasoning, string? Pattern);

/// <summary>/v1/model-prices: the effective price table, and the organization's overrides (owner and member change them).</summary>
public sealed class ModelPricesClient(ApiHttp api)
{
    public Task<ModelPriceTable> ListAsync(CancellationToken cancellationToken = default)
        => api.GetAsync<ModelPriceTable>("v1/model-prices", cancellationToken);

    public Task<ModelPrice> PutAsync(string model, ModelPriceChange change)
        => api.SendJsonAsync<ModelPrice>(HttpMethod.Put, $"v1/model-prices/{Uri.EscapeDataString(model)}", change);

    public Task DeleteAsync(string model) => api.SendAsync(HttpMethod.Delete, $"v1/model-prices/{Uri.EscapeDataString(model)}");
}
