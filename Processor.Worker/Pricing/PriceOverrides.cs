using System.Collections.Frozen;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Trulayer.Processor.Pricing;

/// <summary>One organization's price for a model: found by its name, or by its pattern (a regular expression over the whole name).</summary>
internal sealed record PriceOverride(string Model, string? Pattern, ModelPrice Price, DateTime UpdatedAt, string? UpdatedBy)
{
    /// <summary>How long a pattern may take on one model name before it counts as no match.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(50);

    private readonly Regex? _regex = Pattern is null ? null : CompilePattern(Pattern);

    /// <summary>A pattern matches the whole model name, case-insensitively; throws ArgumentException when it is not a regular expression.</summary>
    public static Regex CompilePattern(string pattern)
        => new($"^(?:{pattern})$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, MatchTimeout);

    public bool IsMatch(string name)
    {
        if (_regex is null)
        {
            return name == Model;
        }

        try
        {
            return _regex.IsMatch(name);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }
}

/// <summary>
/// Organizations' model price overrides (telemetry.model_prices), read by the span decoder on every cost
/// it computes. All of them are held in memory and read again every Processor:PriceOverridesRefresh (10 s), so
/// a change made through another replica applies here within that time; a change made through this
/// replica applies at once. When the database cannot be read, the last table read stays in force.
/// </summary>
internal sealed class PriceOverrides(NpgsqlDataSource dataSource)
{
    private volatile FrozenDictionary<Guid, PriceOverride[]> _byOrganization = FrozenDictionary<Guid, PriceOverride[]>.Empty;

    /// <summary>Whether the table has been read at least once since start.</summary>
    public bool Loaded { get; private set; }

    /// <summary>
    /// The organization's price for <paramref name="model"/> (lower-cased; a provider prefix such as
    /// <c>openai/</c> may be left off): an override named exactly so first, then the first whose pattern
    /// matches, longest pattern first.
    /// </summary>
    public PriceOverride? Find(Guid? organizationId, string model)
    {
        if (organizationId is not { } organization || !_byOrganization.TryGetValue(organization, out var overrides))
        {
            return null;
        }

        var name = model.Trim().ToLowerInvariant();
        var slash = name.LastIndexOf('/');
        var bare = slash >= 0 ? name[(slash + 1)..] : name;
        foreach (var candidate in overrides)
        {
            if (candidate.Model == name || candidate.Model == bare)
            {
                return candidate;
            }
        }

        foreach (var candidate in overrides)
        {
            if (candidate.IsMatch(name) || candidate.IsMatch(bare))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>The organization's overrides as the database holds them now, by name.</summary>
    public async Task<List<PriceOverride>> ListAsync(Guid organizationId, CancellationToken cancellationToken)
    {
        var rows = await ReadAsync(organizationId, cancellationToken);
        return rows.TryGetValue(organizationId, out var list) ? [.. list.OrderBy(o => o.Model, StringComparer.Ordinal)] : [];
    }

    /// <summary>Reads every organization's overrides.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        var rows = await ReadAsync(null, cancellationToken);
        _byOrganization = rows.ToFrozenDictionary(
            r => r.Key,
            r => r.Value.OrderByDescending(o => o.Pattern?.Length ?? int.MaxValue).ThenBy(o => o.Model, StringComparer.Ordinal).ToArray());
        Loaded = true;
    }

    private async Task<Dictionary<Guid, List<PriceOverride>>> ReadAsync(Guid? organizationId, CancellationToken cancellationToken)
    {
        var rows = new Dictionary<Guid, List<PriceOverride>>();
        await using var command = dataSource.CreateCommand(
            "SELECT organization_id, model, pattern, input, output, cache_read, cache_write, reasoning, updated_at, updated_by FROM telemetry.model_prices"
            + (organizationId is null ? "" : " WHERE organization_id = @organization"));
        if (organizationId is { } organization)
        {
            command.Parameters.AddWithValue("organization", organization);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            decimal? Price(int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetDecimal(ordinal);
            var owner = reader.GetGuid(0);
            PriceOverride entry;
            try
            {
                entry = new PriceOverride(reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                    new ModelPrice(null, Price(3), Price(4), Price(5), Price(6), Price(7)),
                    reader.GetDateTime(8), reader.IsDBNull(9) ? null : reader.GetString(9));
            }
            catch (ArgumentException)
            {
                // A pattern the API validated compiles; one written past it is left out, not fatal.
                continue;
            }

            (rows.TryGetValue(owner, out var list) ? list : rows[owner] = []).Add(entry);
        }

        return rows;
    }

    /// <summary>Creates or replaces an organization's override; returns whether it existed before.</summary>
    public async Task<bool> PutAsync(Guid organizationId, PriceOverride entry, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO telemetry.model_prices AS p (organization_id, model, pattern, input, output, cache_read, cache_write, reasoning, updated_at, updated_by)
            VALUES (@organization, @model, @pattern, @input, @output, @cacheRead, @cacheWrite, @reasoning, now(), @by)
            ON CONFLICT (organization_id, model) DO UPDATE SET pattern = excluded.pattern, input = excluded.input, output = excluded.output,
                cache_read = excluded.cache_read, cache_write = excluded.cache_write, reasoning = excluded.reasoning,
                updated_at = excluded.updated_at, updated_by = excluded.updated_by
            RETURNING (xmax <> 0)
            """);
        command.Parameters.AddWithValue("organization", organizationId);
        command.Parameters.AddWithValue("model", entry.Model);
        command.Parameters.Add(Nullable("pattern", NpgsqlDbType.Text, entry.Pattern));
        command.Parameters.Add(Nullable("input", NpgsqlDbType.Numeric, entry.Price.Input));
        command.Parameters.Add(Nullable("output", NpgsqlDbType.Numeric, entry.Price.Output));
        command.Parameters.Add(Nullable("cacheRead", NpgsqlDbType.Numeric, entry.Price.CacheRead));
        command.Parameters.Add(Nullable("cacheWrite", NpgsqlDbType.Numeric, entry.Price.CacheWrite));
        command.Parameters.Add(Nullable("reasoning", NpgsqlDbType.Numeric, entry.Price.Reasoning));
        command.Parameters.Add(Nullable("by", NpgsqlDbType.Text, entry.UpdatedBy));
        var existed = (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
        await ReloadAsync(cancellationToken);
        return existed;
    }

    /// <summary>Removes an organization's override; false when it had none of that name.</summary>
    public async Task<bool> DeleteAsync(Guid organizationId, string model, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM telemetry.model_prices WHERE organization_id = @organization AND model = @model");
        command.Parameters.AddWithValue("organization", organizationId);
        command.Parameters.AddWithValue("model", model);
        var deleted = await command.ExecuteNonQueryAsync(cancellationToken) > 0;
        await ReloadAsync(cancellationToken);
        return deleted;
    }

    private static NpgsqlParameter Nullable(string name, NpgsqlDbType type, object? value) => new(name, type) { Value = value ?? DBNull.Value };
}

/// <summary>
/// Reads the overrides before the consume loops start (so no span is priced without them), then again
/// every Processor:PriceOverridesRefresh.
/// </summary>
internal sealed class PriceOverridesRefresher(PriceOverrides overrides, IOptions<ProcessorOptions> options, ILogger<PriceOverridesRefresher> logger) : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var delay = options.Value.RetryInitialDelay;
        while (!overrides.Loaded)
        {
            try
            {
                await overrides.ReloadAsync(cancellationToken);
            }
            catch (NpgsqlException ex)
            {
                PriceLog.ReloadFailed(logger, ex.Message, delay);
                await Task.Delay(delay, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.Value.RetryMaxDelay.Ticks));
            }
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PriceOverridesRefresh);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await overrides.ReloadAsync(stoppingToken);
            }
            catch (NpgsqlException ex)
            {
                PriceLog.ReloadFailed(logger, ex.Message, options.Value.PriceOverridesRefresh);
            }
        }
    }
}

internal static partial class PriceLog
{
    [LoggerMessage(EventId = 1500, Level = LogLevel.Warning, Message = "Could not read the organizations' model price overrides ({Error}); trying again in {Delay}")]
    public static partial void ReloadFailed(ILogger logger, string error, TimeSpan delay);
}
