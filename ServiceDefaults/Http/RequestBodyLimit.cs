using Microsoft.AspNetCore.Http;

namespace Trulayer.ServiceDefaults.Http;

/// <summary>
/// Request body limits that end in an answer, not a reset connection. A client that writes its whole
/// body before reading (most HTTP libraries when they do not send <c>Expect: 100-continue</c>) only
/// sees a 413 if the server reads what it sends: closing a connection with unread data makes the
/// kernel reset it, and the client takes the reset for a network error and retries forever. So the
/// services answer 413 themselves, and Kestrel's limit is set to <see cref="DrainLimit"/>, above the
/// real one: once the answer is written, Kestrel reads and discards the rest of the body (for at most
/// five seconds) before it reuses or closes the connection, as nginx's lingering close does.
/// </summary>
public static class RequestBodyLimit
{
    /// <summary>How much of a body over <paramref name="limit"/> is read and discarded after the 413; beyond it, the connection is closed.</summary>
    public static long DrainLimit(long limit) => 4 * limit;

    /// <summary>
    /// <paramref name="body"/> that throws a 413 <see cref="BadHttpRequestException"/> once more than
    /// <paramref name="limit"/> bytes were read from it: for a body of unknown length (chunked, HTTP/2),
    /// checked while it streams.
    /// </summary>
    public static Stream Bounded(Stream body, long limit, Func<Exception> tooLarge) => new BoundedReadStream(body, limit, tooLarge);

    private sealed class BoundedReadStream(Stream inner, long limit, Func<Exception> tooLarge) : Stream
    {
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _read;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => Count(await inner.ReadAsync(buffer, cancellationToken));

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => Count(await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken));

        private int Count(int read)
        {
            _read += read;
            return _read > limit ? throw tooLarge() : read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            // The request body belongs to the server.
        }
    }
}
