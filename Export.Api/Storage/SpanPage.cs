using Npgsql;
using Trulayer.Export.Output;

namespace Trulayer.Export.Storage;

/// <summary>
/// The spans of one response, read while they are written: the connection and transaction stay open
/// from the page's first queries until <see cref="WriteAsync"/> has streamed the last span. Memory
/// holds one span at a time, not the page.
/// </summary>
internal sealed class SpanPage : IAsyncDisposable
{
    private readonly NpgsqlConnection? _connection;
    private readonly NpgsqlTransaction? _transaction;
    private readonly NpgsqlCommand? _rows;

    private SpanPage(NpgsqlConnection? connection, NpgsqlTransaction? transaction, NpgsqlCommand? rows, IReadOnlyList<SpanGroup> groups)
    {
        _connection = connection;
        _transaction = transaction;
        _rows = rows;
        Groups = groups;
        SpanCount = groups.Sum(g => g.SpanCount);
    }

    /// <summary>A page without spans (an empty TracesData).</summary>
    public static SpanPage Empty => new(null, null, null, []);

    public IReadOnlyList<SpanGroup> Groups { get; }

    public long SpanCount { get; }

    public static SpanPage Open(NpgsqlConnection connection, NpgsqlTransaction transaction, NpgsqlCommand rows, IReadOnlyList<SpanGroup> groups)
    {
        rows.Connection = connection;
        rows.Transaction = transaction;
        return new SpanPage(connection, transaction, groups.Count == 0 ? null : rows, groups);
    }

    /// <summary>
    /// Streams the page's spans through <paramref name="writer"/>, flushing as its buffer fills. Throws
    /// <see cref="InvalidOperationException"/> if the rows disagree with the groups announced (the
    /// response is then broken off rather than finished wrong).
    /// </summary>
    public async Task WriteAsync(SpanPageWriter writer, CancellationToken cancellationToken)
    {
        writer.Begin(Groups);
        if (_rows is not null)
        {
            using var stored = new StoredSpan();
            var group = -1;
            long spans = 0, bytes = 0;
            await using var reader = await _rows.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var project = reader.GetGuid(0);
                var resource = reader.GetGuid(1);
                var scope = reader.GetGuid(2);
                if (group < 0 || !Groups[group].Holds(project, resource, scope))
                {
                    EnsureComplete(group, spans, bytes);
                    group++;
                    if (group >= Groups.Count || !Groups[group].Holds(project, resource, scope))
                    {
                        throw new InvalidOperationException($"span of project {project}, resource {resource}, scope {scope} is not in the page's next group");
                    }

                    writer.BeginGroup(group);
                    spans = 0;
                    bytes = 0;
                }

                bytes += SpanGroup.SpanFieldSize(WriteSpan(writer, stored, reader));
                spans++;
                if (writer.ShouldFlush)
                {
                    await writer.FlushAsync(cancellationToken);
                }
            }

            EnsureComplete(group, spans, bytes);
            if (group != Groups.Count - 1)
            {
                throw new InvalidOperationException($"the page announced {Groups.Count} groups and its rows filled {group + 1}");
            }
        }

        writer.End();
        await writer.FlushAsync(cancellationToken);
    }

    /// <summary>Writes the row's span (its columns follow project, resource and scope) as it arrived; returns its size.</summary>
    private static int WriteSpan(SpanPageWriter writer, StoredSpan stored, NpgsqlDataReader reader)
    {
        var span = stored.Read(reader, 3);
        writer.WriteSpan(span);
        return span.Length;
    }

    private void EnsureComplete(int group, long spans, long bytes)
    {
        if (group >= 0 && (spans != Groups[group].SpanCount || bytes != Groups[group].SpanFieldBytes))
        {
            throw new InvalidOperationException(
                $"group {group} announced {Groups[group].SpanCount} spans in {Groups[group].SpanFieldBytes} bytes and read {spans} in {bytes}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_rows is not null)
        {
            await _rows.DisposeAsync();
        }

        if (_transaction is not null)
        {
            await _transaction.DisposeAsync();
        }

        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
    }
}
