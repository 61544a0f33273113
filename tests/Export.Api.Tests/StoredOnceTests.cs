using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.AppHost;
using Trulayer.Export.Http;
using Trulayer.Export.Output;
using Trulayer.Export.Storage;
using Trulayer.Otlp.GenAi;
using Trulayer.Otlp.Json;
using Trulayer.Otlp.Protobuf;
using Trulayer.ServiceDefaults.Postgres;

namespace Trulayer.Export.Tests;

/// <summary>
/// The processor keeps a prompt and a completion once, in their columns, and cuts them out of the stored
/// span (migration 0003); the export puts them back. What comes out is still what went in, byte for byte,
/// for spans stored either way and for spans stored before the migration.
/// </summary>
[Collection(ExportCollection.Name)]
public sealed class StoredOnceTests(ExportStack stack)
{
    [Fact]
    public async Task Export_SpansWithPromptsAndCompletions_GivesEachSpanByteForByte()
    {
        var tenant = await stack.NewTenantAsync();
        var start = DateTimeOffset.UtcNow.AddMinutes(-9);
        var spans = ContentSpans(start);
        using (var content = new ByteArrayContent(Request(spans)))
        {
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
            using var response = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", tenant.ApiKey, content);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await stack.WaitForSpansAsync(tenant.Project, spans.Count);

        using var protobuf = await stack.SendAsync(HttpMethod.Get, $"{ExportApi.ExportPath}?{RoundTripTests.Window(start)}", tenant.Session,
            configure: r => r.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/x-protobuf")));
        Assert.Equal(HttpStatusCode.OK, protobuf.StatusCode);
        Assert.Equal(Sorted(spans), Sorted(SpanBytes(await protobuf.Content.ReadAsByteArrayAsync())));

        using var json = await stack.SendAsync(HttpMethod.Get, $"{ExportApi.ExportPath}?{RoundTripTests.Window(start)}", tenant.Session);
        var fromJson = OtlpJson.ParseTracesData(await json.Content.ReadAsByteArrayAsync()).ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans);
        // OTLP/JSON has no place for unknown fields: the attributes are what must come back.
        Assert.Equal(spans.Select(Span.Parser.ParseFrom).OrderBy(s => s.Name).Select(s => s.Attributes), fromJson.OrderBy(s => s.Name).Select(s => s.Attributes));

        // What was cut: both texts of the first, fourth and fifth spans, the completion of the second, nothing of the third.
        await using var command = stack.Database.CreateCommand(
            "SELECT name, input_at IS NOT NULL, output_at IS NOT NULL, octet_length(otlp) < span_size, input_form, output_form, input_text, output_text " +
            "FROM telemetry.spans WHERE project_id = $1 ORDER BY name");
        command.Parameters.Add(new NpgsqlParameter { Value = tenant.Project });
        var cut = new List<(string, bool, bool, bool?, string?, string?)>();
        var normalized = new List<(string?, string?)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
                cut.Add((reader.GetString(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.IsDBNull(3) ? null : reader.GetBoolean(3), Text(4), Text(5)));
                normalized.Add((
                    Text(6) is { } input ? GenAiContent.Normalize(GenAiField.InputText, Text(4), input) : null,
                    Text(7) is { } output ? GenAiContent.Normalize(GenAiField.OutputText, Text(5), output) : null));
            }
        }

        Assert.Equal(
        [
            ("1 prompt and completion", true, true, true, null, null), ("2 structured input", false, true, true, null, null), ("3 reordered prompt", false, false, null, null, null),
            ("4 legacy prompt and completion", true, true, true, "gen_ai.prompt", "gen_ai.completion"), ("5 openinference values", true, true, true, "input.value", "output.value"),
        ], cut);
        // Normalized on read, each is what the mapper makes of the span's attributes.
        Assert.Equal(spans.Select(Span.Parser.ParseFrom).OrderBy(s => s.Name, StringComparer.Ordinal).Select(s => GenAiMapper.Map(s.Attributes)).Select(f => (f.InputText, f.OutputText)), normalized);
        Assert.Equal("[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"It grew.\"}]}]", normalized[3].Item2);
    }

    [Fact]
    public async Task Migration0003_SpansStoredBeforeIt_StillExportByteForByte()
    {
        var name = "upgrade_" + Guid.NewGuid().ToString("N")[..12];
        await using (var create = stack.Database.CreateCommand($"CREATE DATABASE {name}"))
        {
            await create.ExecuteNonQueryAsync();
        }

        try
        {
            var builder = new NpgsqlConnectionStringBuilder(stack.App.GetConnectionString("postgres")) { Database = name, Pooling = false };
            await using var database = NpgsqlDataSource.Create(builder.ConnectionString);
            var migrations = Migrations();
            var migrator = new SchemaMigrator(database, NullLogger<SchemaMigrator>.Instance);
            await migrator.MigrateAsync("telemetry", [.. migrations.Where(m => m.Version <= 2)]);
            var project = Guid.NewGuid();
            var start = DateTimeOffset.UtcNow.AddMinutes(-3);
            var batch = VariedBatch.Create(start);
            await StoreAsBefore0003Async(database, project, batch.ResourceSpans);

            await migrator.MigrateAsync("telemetry", migrations);

            Assert.True(migrations.Max(m => m.Version) >= 3);
            var exported = await ExportAsync(database, project, start);
            var sent = batch.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).Select(s => s.ToByteArray()).ToList();
            Assert.Equal(Sorted(sent), Sorted(SpanBytes(exported)));
            Assert.Equal(SpanFact.Of(batch), SpanFact.Of(TracesData.Parser.ParseFrom(exported)));
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await using var drop = stack.Database.CreateCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            await drop.ExecuteNonQueryAsync();
        }
    }

    /// <summary>
    /// Three LLM spans as bytes: one whose prompt and completion the processor can cut out (with an unknown
    /// field for good measure), one whose input is structured (kept) and whose output is a string (cut),
    /// one whose prompt attribute is encoded value first (kept: it would not come back the same).
    /// </summary>
    private static List<byte[]> ContentSpans(DateTimeOffset start)
    {
        var trace = ByteString.CopyFrom(Guid.NewGuid().ToByteArray());
        var t0 = (ulong)start.ToUnixTimeMilliseconds() * 1_000_000 + 123_457;

        byte[] Span(string name, int offset, params byte[][] attributes)
        {
            var span = new Span
            {
                TraceId = trace,
                SpanId = ByteString.CopyFrom(BitConverter.GetBytes(0x0102030405060700L + offset)),
                Name = name,
                Kind = OpenTelemetry.Proto.Trace.V1.Span.Types.SpanKind.Client,
                StartTimeUnixNano = t0 + (ulong)offset,
                EndTimeUnixNano = t0 + 1_000_000,
                Attributes = { new KeyValue { Key = "gen_ai.system", Value = new AnyValue { StringValue = "openai" } } },
            };
            return [.. span.ToByteArray(), .. attributes.SelectMany(a => Field(9, a))];
        }

        static byte[] Text(string key, string text) => new KeyValue { Key = key, Value = new AnyValue { StringValue = text } }.ToByteArray();

        var prompt = "summarize the quarter: " + string.Concat(Enumerable.Repeat("revenue grew, costs fell; ünïcödé 🚀 ", 60));
        return
        [
            [
                // Content already in the stored form (semconv 1.37 messages as strings) is cut out with no form.
                .. Span("1 prompt and completion", 1, Text("gen_ai.input.messages", prompt), Text("gen_ai.request.model", "gpt-4o"), Text("gen_ai.output.messages", "It grew.")),
                0xA0, 0x06, 0x2A, // field 100, varint 42: unknown to OTLP
            ],
            Span("2 structured input", 2,
                new KeyValue { Key = "gen_ai.input.messages", Value = new AnyValue { ArrayValue = new ArrayValue { Values = { new AnyValue { StringValue = prompt } } } } }.ToByteArray(),
                Text("gen_ai.output.messages", "[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"It grew.\"}]}]")),
            Span("3 reordered prompt", 3, [.. Field(2, Field(1, Encoding.UTF8.GetBytes(prompt))), .. Field(1, "gen_ai.prompt"u8.ToArray())]),
            // Other forms of one attribute are cut out too: the column holds the value, its form the attribute.
            Span("4 legacy prompt and completion", 4, Text("gen_ai.prompt", prompt), Text("gen_ai.completion", "It grew.")),
            Span("5 openinference values", 5,
                Text("input.value", "{\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}"), Text("input.mime_type", "application/json"),
                Text("output.value", "It grew.")),
        ];
    }

    /// <summary>An ExportTraceServiceRequest of <paramref name="spans"/> as they are, under one resource and scope.</summary>
    private static byte[] Request(IEnumerable<byte[]> spans)
    {
        var resource = new OpenTelemetry.Proto.Resource.V1.Resource { Attributes = { new KeyValue { Key = "service.name", Value = new AnyValue { StringValue = "stored-once" } } } };
        byte[] scopeSpans = [.. Field(1, new InstrumentationScope { Name = "test" }.ToByteArray()), .. spans.SelectMany(s => Field(2, s))];
        return Field(1, [.. Field(1, resource.ToByteArray()), .. Field(2, scopeSpans)]);
    }

    /// <summary>Each span of a protobuf TracesData, as the bytes it carries.</summary>
    private static List<byte[]> SpanBytes(byte[] tracesData)
    {
        var spans = new List<byte[]>();
        foreach (var resourceSpans in Fields(tracesData, 1))
        {
            foreach (var scopeSpans in Fields(resourceSpans, 2))
            {
                spans.AddRange(Fields(scopeSpans, 2));
            }
        }

        return spans;
    }

    private static List<byte[]> Fields(byte[] message, int number)
    {
        var fields = new List<byte[]>();
        var reader = new ProtoWireReader(message);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            if (field == number && wireType == WireType.LengthDelimited)
            {
                var (offset, length) = reader.ReadRange();
                fields.Add(message.AsSpan(offset, length).ToArray());
            }
            else
            {
                reader.Skip(wireType);
            }
        }

        return fields;
    }

    private static List<string> Sorted(IEnumerable<byte[]> spans) => [.. spans.Select(Convert.ToHexString).Order(StringComparer.Ordinal)];

    private static byte[] Field(int number, byte[] content)
    {
        var field = new byte[ProtoWire.LengthDelimitedFieldSize(number, content.Length)];
        ProtoWire.WriteLengthDelimited(field, number, content);
        return field;
    }

    /// <summary>Processor.Worker's migrations, as it embeds them.</summary>
    private static List<Migration> Migrations()
    {
        var root = typeof(TrulayerModel).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!;
        return
        [
            .. Directory.GetFiles(Path.Combine(root, "Processor.Worker", "Migrations"), "*.sql")
                .Select(path => Path.GetFileNameWithoutExtension(path))
                .Select(file => new Migration(int.Parse(file[..4], System.Globalization.CultureInfo.InvariantCulture), file[5..],
                    File.ReadAllText(Path.Combine(root, "Processor.Worker", "Migrations", file + ".sql"))))
                .OrderBy(m => m.Version),
        ];
    }

    /// <summary>
    /// Stores spans as the processor did under migrations 0001 and 0002: every span whole in otlp, its
    /// attributes as jsonb, its prompt and completion also in input_text and output_text.
    /// </summary>
    private static async Task StoreAsBefore0003Async(NpgsqlDataSource database, Guid project, IEnumerable<OpenTelemetry.Proto.Trace.V1.ResourceSpans> resourceSpans)
    {
        await using var connection = await database.OpenConnectionAsync();
        foreach (var resource in resourceSpans)
        {
            var resourceId = Guid.NewGuid();
            await ExecuteAsync(connection, "INSERT INTO telemetry.resources (project_id, resource_id, schema_url, attributes, otlp) VALUES ($1, $2, $3, '{}', $4)",
                project, resourceId, resource.SchemaUrl, resource.Resource?.ToByteArray() ?? []);
            foreach (var scope in resource.ScopeSpans)
            {
                var scopeId = Guid.NewGuid();
                await ExecuteAsync(connection, "INSERT INTO telemetry.scopes (project_id, scope_id, name, version, schema_url, attributes, otlp) VALUES ($1, $2, '', '', $3, '{}', $4)",
                    project, scopeId, scope.SchemaUrl, scope.Scope?.ToByteArray() ?? []);
                foreach (var span in scope.Spans)
                {
                    var start = (long)span.StartTimeUnixNano;
                    var startTime = DateTime.UnixEpoch.AddTicks(start / 1000 * 10);
                    await ExecuteAsync(connection, "SELECT telemetry.ensure_span_partitions(ARRAY[$1::date])", DateOnly.FromDateTime(startTime));
                    string? Attribute(string key) => span.Attributes.FirstOrDefault(a => a.Key == key)?.Value.StringValue;
                    await ExecuteAsync(connection,
                        """
                        INSERT INTO telemetry.spans (project_id, trace_id, span_id, parent_span_id, start_time, start_unix_nano, end_unix_nano, name, kind,
                            status_code, status_message, service_name, span_type, input_text, output_text, text_truncated, attributes, resource_id, scope_id,
                            otlp, received_at)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, 'CUSTOM', $11, $12, false, '{"attributes": "as jsonb"}', $13, $14, $15, now())
                        """,
                        project, new Guid(span.TraceId.Span, bigEndian: true), BinaryPrimitives.ReadInt64BigEndian(span.SpanId.Span),
                        span.ParentSpanId.Length == 8 ? BinaryPrimitives.ReadInt64BigEndian(span.ParentSpanId.Span) : DBNull.Value,
                        startTime, start, (long)span.EndTimeUnixNano, span.Name.Replace('\0', '\uFFFD'), (short)span.Kind, (short)(span.Status?.Code ?? 0),
                        (object?)Attribute("gen_ai.prompt") ?? DBNull.Value, (object?)Attribute("gen_ai.completion") ?? DBNull.Value,
                        resourceId, scopeId, span.ToByteArray());
                }
            }
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, params object[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var value in values)
        {
            command.Parameters.Add(value is DateTime time
                ? new NpgsqlParameter { Value = time, NpgsqlDbType = NpgsqlDbType.TimestampTz }
                : new NpgsqlParameter { Value = value });
        }

        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The window's spans as Export.Api reads and writes them: protobuf TracesData, one page.</summary>
    private static async Task<byte[]> ExportAsync(NpgsqlDataSource database, Guid project, DateTimeOffset start)
    {
        var page = await new SpanStore(database).OpenExportPageAsync(
            [project], start.AddMinutes(-1).ToUnixTimeMilliseconds() * 1_000_000, start.AddMinutes(1).ToUnixTimeMilliseconds() * 1_000_000, null, 10_000, CancellationToken.None);
        Assert.Null(page.Next);
        await using var spans = page.Spans;
        using var body = new MemoryStream();
        var output = PipeWriter.Create(body, new StreamPipeWriterOptions(leaveOpen: true));
        await spans.WriteAsync(new ProtobufSpanPageWriter(output), CancellationToken.None);
        await output.CompleteAsync();
        return body.ToArray();
    }
}
