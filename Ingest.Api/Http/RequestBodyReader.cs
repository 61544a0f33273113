using System.Buffers;
using System.IO.Compression;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;
using Trulayer.ServiceDefaults.Http;

namespace Trulayer.Ingest.Http;

/// <summary>How a request body is compressed (Content-Encoding, or gRPC's grpc-encoding).</summary>
public enum ContentCoding
{
    Identity,
    Gzip,
    Deflate,
}

/// <summary>A request body that cannot be read: too large (413) or not decodable (400).</summary>
public sealed class RequestBodyException(int statusCode, string message) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
}

/// <summary>A request body read into a pooled buffer; valid until disposed.</summary>
public sealed class PooledBody : IDisposable
{
    private byte[] _buffer;

    internal PooledBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    public int Length { get; }

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>
/// Reads a body, decompressing as it goes, into memory no larger than the limit: decompressed bytes
/// are counted while they stream, and reading stops one byte past the limit, so a small gzip bomb
/// costs at most the limit in memory, never its inflated size.
/// </summary>
public static class RequestBodyReader
{
    private const int MinimumBuffer = 16 * 1024;

    public static string Describe(int bytes) => bytes % (1024 * 1024) == 0 ? $"{bytes / (1024 * 1024)} MiB" : $"{bytes} bytes";

    /// <summary>
    /// The most a body may take as sent: a compressed body is never much larger than what it
    /// decompresses to, so anything beyond the decompressed limit plus framing slack is refused unread.
    /// </summary>
    public static long WireLimit(int maxBytes) => maxBytes + (maxBytes / 64) + (64 * 1024);

    /// <summary>
    /// Kestrel's own limit, set well above <see cref="WireLimit"/>: the 413 is ours, and after it Kestrel
    /// reads and discards the rest of an oversized body (up to this much) so the client, still sending,
    /// receives the answer instead of a reset connection (<see cref="RequestBodyLimit"/>).
    /// </summary>
    public static long KestrelLimit(int maxBytes) => RequestBodyLimit.DrainLimit(WireLimit(maxBytes));

    /// <summary>Reads an HTTP request body with its Content-Encoding. Throws <see cref="RequestBodyException"/>.</summary>
    public static async Task<PooledBody> ReadHttpAsync(HttpRequest request, ContentCoding coding, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = KestrelLimit(maxBytes);
        }

        var wireLimit = WireLimit(maxBytes);
        if (request.ContentLength > wireLimit)
        {
            throw TooLarge(maxBytes);
        }

        try
        {
            var hint = (int)Math.Min(request.ContentLength ?? MinimumBuffer, maxBytes + 1L);
            switch (coding)
            {
                case ContentCoding.Gzip:
                {
                    await using var gzip = new GZipStream(RequestBodyLimit.Bounded(request.Body, wireLimit, () => TooLarge(maxBytes)), CompressionMode.Decompress);
                    return await ReadAsync(gzip, hint * 4, maxBytes, coding, cancellationToken);
                }

                case ContentCoding.Deflate:
                {
                    // HTTP's "deflate" is the zlib format (RFC 9110), but some clients send raw deflate:
                    // the first two bytes tell which.
                    var zlib = await StartsWithZlibHeaderAsync(request.BodyReader, cancellationToken);
                    var body = RequestBodyLimit.Bounded(request.BodyReader.AsStream(leaveOpen: true), wireLimit, () => TooLarge(maxBytes));
                    await using Stream inflater = zlib
                        ? new ZLibStream(body, CompressionMode.Decompress)
                        : new DeflateStream(body, CompressionMode.Decompress);
                    return await ReadAsync(inflater, hint * 4, maxBytes, coding, cancellationToken);
                }

                default:
                    return await ReadAsync(request.Body, hint, maxBytes, coding, cancellationToken);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(maxBytes);
        }
    }

    /// <summary>Decompresses a gzip message already in memory (a gRPC message with grpc-encoding gzip).</summary>
    public static async Task<PooledBody> InflateGzipAsync(ReadOnlyMemory<byte> compressed, int maxBytes, CancellationToken cancellationToken)
    {
        await using var gzip = new GZipStream(new ReadOnlyMemoryStream(compressed), CompressionMode.Decompress);
        return await ReadAsync(gzip, compressed.Length * 4, maxBytes, ContentCoding.Gzip, cancellationToken);
    }

    private static async Task<bool> StartsWithZlibHeaderAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        var result = await reader.ReadAtLeastAsync(2, cancellationToken);
        var buffer = result.Buffer;
        var zlib = false;
        if (buffer.Length >= 2)
        {
            Span<byte> header = stackalloc byte[2];
            buffer.Slice(0, 2).CopyTo(header);
            // CMF: method 8 (deflate), window <= 32 KiB; FLG makes CMF*256+FLG a multiple of 31.
            zlib = (header[0] & 0x0F) == 8 && (header[0] >> 4) <= 7 && ((header[0] << 8) | header[1]) % 31 == 0;
        }

        // Nothing consumed: the inflater reads these bytes again.
        reader.AdvanceTo(buffer.Start);
        return zlib;
    }

    private static async Task<PooledBody> ReadAsync(Stream source, int sizeHint, int maxBytes, ContentCoding coding, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Clamp(sizeHint, MinimumBuffer, maxBytes + 1));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > maxBytes)
                    {
                        throw TooLarge(maxBytes);
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(buffer.Length * 2L, maxBytes + 1L));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await source.ReadAsync(buffer.AsMemory(length), cancellationToken);
                if (read == 0)
                {
                    return new PooledBody(buffer, length);
                }

                length += read;
                if (length > maxBytes)
                {
                    throw TooLarge(maxBytes);
                }
            }
        }
        catch (InvalidDataException ex)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw new RequestBodyException(StatusCodes.Status400BadRequest, $"the body is not valid {coding.ToString().ToLowerInvariant()} data ({ex.Message}); compress it as Content-Encoding says, or drop the header");
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    private static RequestBodyException TooLarge(int maxBytes) => new(
        StatusCodes.Status413PayloadTooLarge,
        $"the request body is over the limit of {Describe(maxBytes)} after decompression; send fewer spans or log records per request");

    /// <summary>Passes reads through and refuses a body that goes on past its wire limit.</summary>
    /// <summary>A read-only stream over memory, for inflating a message already read.</summary>
    private sealed class ReadOnlyMemoryStream(ReadOnlyMemory<byte> memory) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => memory.Length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = Math.Min(buffer.Length, memory.Length - _position);
            memory.Span.Slice(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
