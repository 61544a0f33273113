using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Trulayer.Ingest;
using Trulayer.Ingest.Pipeline;
using Trulayer.Otlp.GenAi;
using Trulayer.Processor;
using Trulayer.Processor.Pipeline;
using Trulayer.Processor.Storage;
using Trulayer.Workload.Load;

namespace Trulayer.Load;

/// <summary>What binary COPY alone achieves with the rows of a run, into the same table of the same database.</summary>
/// <param name="Rows">Rows per round.</param>
/// <param name="RowsPerSecond">Each round's rate.</param>
public sealed record RawCopyResult(int Rows, IReadOnlyList<double> RowsPerSecond)
{
    /// <summary>The median round: the ceiling the end-to-end rate is compared with.</summary>
    public double Median => RowsPerSecond.Order().ElementAt(RowsPerSecond.Count / 2);

    public double Best => RowsPerSecond.Max();
}

/// <summary>
/// The raw binary COPY rate of a run's rows: the same batch stamped with fresh ids, turned into Kafka
/// records by ingest's own scanner and composer, into rows by the processor's own decoder, and written by
/// the processor's own COPY (<c>SpanCopy</c>) into telemetry.spans in one transaction on one connection,
/// as bench/Trulayer.Benchmarks' ProcessorBenchmarks.RawCopy does. Each round is rolled back, so no row
/// stays; that leaves out the commit's WAL flush, a few milliseconds per round, which makes the ceiling
/// a little higher and the end-to-end ratio a little lower than it is.
/// </summary>
internal static class RawCopyCeiling
{
    public static RawCopyResult Measure(string connectionString, Guid projectId, LoadSettings settings, int rows, int rounds)
    {
        var spanRows = BuildRows(projectId, settings with { Transport = LoadTransport.HttpProtobuf }, rows);
        using var dataSource = NpgsqlDataSource.Create(connectionString);
        var storage = new SpanStorage(dataSource, Options.Create(new TelemetryOptions()), NullLogger<SpanStorage>.Instance);
        storage.Initialize();
        storage.EnsurePartitions(spanRows.Select(r => UnixNanos.Day(r.StartUnixNano)).ToHashSet());

        var rates = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            using var connection = dataSource.OpenConnection();
            using var transaction = connection.BeginTransaction();
            var started = Stopwatch.GetTimestamp();
            var copied = SpanCopy.Copy(connection, "telemetry.spans", spanRows);
            var elapsed = Stopwatch.GetElapsedTime(started);
            transaction.Rollback();
            rates.Add(copied / elapsed.TotalSeconds);
        }

        return new RawCopyResult(spanRows.Count, rates);
    }

    private static List<SpanRow> BuildRows(Guid projectId, LoadSettings settings, int rows)
    {
        var template = settings.CreateTemplate();
        var ids = RunIds.NewRun();
        var scanner = new ExportRequestScanner(new IngestOptions());
        var decoder = new SpanRecordDecoder(new DimensionCache(), GenAiMapper.DefaultMaxTextBytes);
        var received = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000UL;
        var spanRows = new List<SpanRow>(rows);
        for (long request = 1; spanRows.Count < rows; request++)
        {
            var payload = template.NewBuffer();
            template.Stamp(payload, ids, request);
            var scan = scanner.Scan(payload, received);
            foreach (var record in SpanBatchComposer.Compose(scan, projectId, received, new IngestOptions().MaxRecordBytes))
            {
                var consumed = new ConsumeResult<byte[]?, byte[]?>
                {
                    Message = new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(record.Key), Value = record.Value },
                    TopicPartitionOffset = new TopicPartitionOffset("raw-copy", 0, 0),
                };
                var (decoded, deadLetter) = decoder.Decode(consumed);
                spanRows.AddRange(decoded?.Spans ?? throw new InvalidOperationException($"the processor would dead-letter a record of the batch: {deadLetter?.Reason}"));
            }
        }

        return spanRows.Count > rows ? spanRows[..rows] : spanRows;
    }
}
