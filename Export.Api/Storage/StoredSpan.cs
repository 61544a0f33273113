using System.Buffers;
using Npgsql;
using Trulayer.Otlp.GenAi;

namespace Trulayer.Export.Storage;

/// <summary>
/// Reads spans back as they arrived from telemetry.spans: the stored <c>otlp</c> bytes and, where the
/// processor cut a prompt or completion out of them (it keeps that text once, in input_text or
/// output_text; migration 0003), the text spliced back in at its placeholder (<see cref="ContentSplice"/>).
/// Spans stored whole (all spans stored before 0003 among them) come out as stored. Holds one span at a
/// time in pooled buffers: what <see cref="Read"/> returns is valid until the next call.
/// </summary>
internal sealed class StoredSpan : IDisposable
{
    /// <summary>A span's size as it arrived, in SQL over a telemetry.spans row.</summary>
    public const string SizeColumn = "coalesce(span_size, octet_length(otlp))";

    /// <summary>
    /// What to select of a telemetry.spans row: the bytes and, only where content was cut out, the text that
    /// goes back (as stored: a page's rows are sorted holding TOAST pointers, not the values).
    /// </summary>
    public const string SelectColumns =
        "otlp, input_at, CASE WHEN input_at IS NOT NULL THEN input_text END AS input_text, " +
        "output_at, CASE WHEN output_at IS NOT NULL THEN output_text END AS output_text";

    /// <summary>
    /// The same, over a query of <see cref="SelectColumns"/>, in the order <see cref="Read"/> reads them; the
    /// texts in UTF-8 as the span carries them (bytea: nothing to decode and encode again on the way).
    /// </summary>
    public const string Columns = "otlp, input_at, convert_to(input_text, 'UTF8'), output_at, convert_to(output_text, 'UTF8')";

    private byte[] _stored = ArrayPool<byte>.Shared.Rent(64 * 1024);
    private byte[] _restored = [];
    private byte[] _input = [];
    private byte[] _output = [];

    /// <summary>The span of the reader's current row, whose <see cref="Columns"/> start at <paramref name="first"/>.</summary>
    public ReadOnlySpan<byte> Read(NpgsqlDataReader reader, int first)
    {
        var length = (int)reader.GetBytes(first, 0, null, 0, 0);
        Ensure(ref _stored, length);
        reader.GetBytes(first, 0, _stored, 0, length);
        var stored = _stored.AsSpan(0, length);
        int? inputAt = reader.IsDBNull(first + 1) ? null : reader.GetInt32(first + 1);
        int? outputAt = reader.IsDBNull(first + 3) ? null : reader.GetInt32(first + 3);
        if (inputAt is null && outputAt is null)
        {
            return stored;
        }

        var input = Text(reader, first + 2, inputAt, ref _input);
        var output = Text(reader, first + 4, outputAt, ref _output);
        try
        {
            var size = ContentSplice.RestoredSize(stored, inputAt, input.Length, outputAt, output.Length);
            Ensure(ref _restored, size);
            return _restored.AsSpan(0, ContentSplice.Restore(stored, inputAt, input, outputAt, output, _restored));
        }
        catch (FormatException ex)
        {
            throw new InvalidOperationException($"a stored span cannot be restored: {ex.Message}", ex);
        }
    }

    public void Dispose()
    {
        foreach (var buffer in new[] { _stored, _restored, _input, _output })
        {
            if (buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        _stored = _restored = _input = _output = [];
    }

    /// <summary>The UTF-8 text to splice in at <paramref name="at"/>; empty when nothing was cut there.</summary>
    private static ReadOnlySpan<byte> Text(NpgsqlDataReader reader, int ordinal, int? at, ref byte[] buffer)
    {
        if (at is null)
        {
            return [];
        }

        if (reader.IsDBNull(ordinal))
        {
            throw new InvalidOperationException($"a stored span has content cut out at byte {at} but no text to put back");
        }

        var length = (int)reader.GetBytes(ordinal, 0, null, 0, 0);
        Ensure(ref buffer, length);
        reader.GetBytes(ordinal, 0, buffer, 0, length);
        return buffer.AsSpan(0, length);
    }

    private static void Ensure(ref byte[] buffer, int length)
    {
        if (buffer.Length >= length)
        {
            return;
        }

        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        buffer = ArrayPool<byte>.Shared.Rent(length);
    }
}
