using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using Trulayer.Otlp.Analytics;
using Trulayer.Processor.Storage;
using Trulayer.ServiceDefaults.Postgres;

namespace Trulayer.Processor.Tests;

/// <summary>Migration 0011 on rollups written before it: the hourly sketches become bytea with the same entries.</summary>
public sealed class LatencySketchMigrationTests(DatabaseFixture database) : IClassFixture<DatabaseFixture>
{
    [Fact]
    public async Task Migrate_HourlySketchesStoredAsArrays_BecomeTheSameEntriesAsBytes()
    {
        var migrations = Migration.FromEmbeddedResources(typeof(SpanStorage).Assembly);
        var migrator = new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance);
        await migrator.MigrateAsync("telemetry", [.. migrations.Where(m => m.Version < 11)]);
        var project = Guid.NewGuid();
        long[] sketch = [LatencySketch.Pack(0, 2), LatencySketch.Pack(300, 5), LatencySketch.Pack(612, LatencySketch.CountMask)];
        var array = "'{" + string.Join(",", sketch) + "}'";
        foreach (var (table, columns, values) in new[]
        {
            ("llm_usage_minute", "service, user_id", "'s', 'u'"),
            ("llm_usage_hour", "service", "'s'"),
            ("llm_usage_hour_model", "", ""),
        })
        {
            foreach (var (model, latency) in new[] { ("m", array), ("empty", "'{}'") })
            {
                await Execute(
                    $"INSERT INTO telemetry.{table} (project_id, bucket, model, provider, span_type, calls, errors, input_tokens, output_tokens, " +
                    $"cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_micros, latency{(columns.Length > 0 ? ", " + columns : "")}) " +
                    $"VALUES ('{project}', '2026-12-01T10:00:00Z', '{model}', 'p', 'LLM', 7, 0, 1, 2, 0, 0, 0, 3, {latency}::bigint[]{(values.Length > 0 ? ", " + values : "")})");
            }
        }

        await migrator.MigrateAsync("telemetry", migrations);

        foreach (var table in new[] { "llm_usage_hour", "llm_usage_hour_model" })
        {
            Assert.Equal(sketch, await BytesSketch(table, "m"));
            Assert.Empty(await BytesSketch(table, "empty"));
        }

        Assert.Equal(sketch, await ScalarAsync<long[]>($"SELECT latency FROM telemetry.llm_usage_minute WHERE project_id = '{project}' AND model = 'm'"));
        // Merged as the processor's upsert merges: counts added bin by bin, bins ascending, a count saturating.
        var merged = await ScalarAsync<byte[]>(
            $"SELECT telemetry.latency_sketch_merge(latency, telemetry.latency_sketch_bytes('{{{LatencySketch.Pack(300, 1)},{LatencySketch.Pack(12, 4)},{LatencySketch.Pack(612, 9)}}}'::bigint[])) " +
            $"FROM telemetry.llm_usage_hour_model WHERE project_id = '{project}' AND model = 'm'");
        Assert.Equal([LatencySketch.Pack(0, 2), LatencySketch.Pack(12, 4), LatencySketch.Pack(300, 6), LatencySketch.Pack(612, LatencySketch.CountMask)], Entries(merged));
        Assert.Empty(await ScalarAsync<byte[]>("SELECT telemetry.latency_sketch_merge(''::bytea, ''::bytea)"));
    }

    private async Task<long[]> BytesSketch(string table, string model)
        => Entries(await ScalarAsync<byte[]>($"SELECT latency FROM telemetry.{table} WHERE model = '{model}'"));

    private static long[] Entries(byte[] sketch)
    {
        Assert.Equal(0, sketch.Length % LatencySketch.EntryBytes);
        return [.. sketch.Chunk(LatencySketch.EntryBytes).Select(entry => BinaryPrimitives.ReadInt64BigEndian(entry))];
    }

    private async Task Execute(string sql)
    {
        await using var command = database.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = database.DataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), sql);
        return reader.GetFieldValue<T>(0);
    }
}
