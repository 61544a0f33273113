using Npgsql;
using NpgsqlTypes;
using Trulayer.Processor.Pipeline;

namespace Trulayer.Processor.Storage;

/// <summary>
/// The resources and scopes a batch brings that are not stored yet (telemetry.resources and
/// telemetry.scopes, once per project), whichever signal's batch it is: added to the batch's
/// transaction, and marked stored in the <see cref="DimensionCache"/> once that commits.
/// </summary>
internal sealed class DimensionRows
{
    private const string InsertResourcesSql = """
        INSERT INTO telemetry.resources (project_id, resource_id, service_name, schema_url, attributes, otlp)
        SELECT p, r, s, u, a::jsonb, o FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::bytea[]) AS x(p, r, s, u, a, o)
        ON CONFLICT DO NOTHING
        """;

    private const string InsertScopesSql = """
        INSERT INTO telemetry.scopes (project_id, scope_id, name, version, schema_url, attributes, otlp)
        SELECT p, i, n, v, u, a::jsonb, o FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[]) AS x(p, i, n, v, u, a, o)
        ON CONFLICT DO NOTHING
        """;

    private readonly List<ResourceRow> _resources;
    private readonly List<ScopeRow> _scopes;

    private DimensionRows(List<ResourceRow> resources, List<ScopeRow> scopes)
    {
        _resources = resources;
        _scopes = scopes;
    }

    /// <summary>The distinct rows among the records' resources and scopes.</summary>
    public static DimensionRows Of(IEnumerable<ResourceRow> resources, IEnumerable<ScopeRow> scopes)
        => new([.. resources.DistinctBy(r => (r.ProjectId, r.ResourceId))], [.. scopes.DistinctBy(s => (s.ProjectId, s.ScopeId))]);

    /// <summary>Adds the inserts (<c>ON CONFLICT DO NOTHING</c>) to <paramref name="batch"/>.</summary>
    public void AddTo(NpgsqlBatch batch)
    {
        if (_resources.Count > 0)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(InsertResourcesSql)
            {
                Parameters =
                {
                    SpanBatchWriter.Array(_resources.Select(r => r.ProjectId), NpgsqlDbType.Uuid),
                    SpanBatchWriter.Array(_resources.Select(r => r.ResourceId), NpgsqlDbType.Uuid),
                    SpanBatchWriter.Array(_resources.Select(r => r.ServiceName), NpgsqlDbType.Text),
                    SpanBatchWriter.Array(_resources.Select(r => r.SchemaUrl), NpgsqlDbType.Text),
                    SpanBatchWriter.Array(_resources.Select(r => r.AttributesJson), NpgsqlDbType.Text),
                    SpanBatchWriter.Array(_resources.Select(r => r.Otlp), NpgsqlDbType.Bytea),
                },
            });
        }

        if (_scopes.Count > 0)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(InsertScopesSql)
            {
                Parameters =
                {
                    SpanBatchWriter.Array(_scopes.Select(s => s.ProjectId), NpgsqlDbType.Uuid),
                    SpanBatchWriter.Array(_scopes.Select(s => s.ScopeId), NpgsqlDbType.Uuid),
                    SpanBatchWriter.Array(_scopes.Select(s => s.Name), NpgsqlDbType.Text),
                    SpanBatchWriter.Array(_scopes.Select(s => s.Version), NpgsqlDbType.Text),
                    SpanBatchWriter.Array(_scopes.Select(s => s.SchemaUrl), NpgsqlDbType.Text),
                    SpanBatchWriter.Array(_scopes.Select(s => s.AttributesJson), NpgsqlDbType.Text),
                    SpanBatchWriter.Array(_scopes.Select(s => s.Otlp), NpgsqlDbType.Bytea),
                },
            });
        }
    }

    /// <summary>After the transaction committed: the cache need not send these rows again.</summary>
    public void MarkStored(DimensionCache cache)
    {
        foreach (var resource in _resources)
        {
            cache.MarkStored(resource.ProjectId, resource.ResourceId, isScope: false);
        }

        foreach (var scope in _scopes)
        {
            cache.MarkStored(scope.ProjectId, scope.ScopeId, isScope: true);
        }
    }
}
