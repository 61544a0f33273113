using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace Trulayer.Gateway;

/// <summary>
/// Kestrel's buffers in blocks of 64 KiB instead of its own 4 KiB ones. Kestrel receives into at least
/// half a block at a time, so with 4 KiB blocks a 64 KiB OTLP batch arrives in 2-4 KiB reads, each one
/// a system call and a turn of YARP's copy loop; with 64 KiB blocks it takes a few reads and one copy
/// to the service behind (README, "Performance: gateway"). An idle keep-alive connection holds no block
/// (Kestrel waits for data before it rents one).
/// </summary>
internal sealed class LargeBlockMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new LargeBlockMemoryPool();
}

/// <summary>Pinned 64 KiB blocks (sockets pin what they read into), reused; at most <see cref="MaxRetained"/> kept while unused.</summary>
internal sealed class LargeBlockMemoryPool : MemoryPool<byte>
{
    public const int BlockSize = 64 * 1024;

    /// <summary>4 MiB kept for the next requests; a burst beyond that allocates, and gives its blocks back to the GC.</summary>
    public const int MaxRetained = 64;

    private readonly ConcurrentQueue<Block> _free = new();
    private int _freeCount;
    private bool _disposed;

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        if (_free.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _freeCount);
            return block;
        }

        return new Block(this);
    }

    private void Return(Block block)
    {
        if (!_disposed && Interlocked.Increment(ref _freeCount) <= MaxRetained)
        {
            _free.Enqueue(block);
        }
        else
        {
            Interlocked.Decrement(ref _freeCount);
        }
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        _free.Clear();
    }

    private sealed class Block(LargeBlockMemoryPool pool) : IMemoryOwner<byte>
    {
        public Memory<byte> Memory { get; } = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);

        public void Dispose() => pool.Return(this);
    }
}
