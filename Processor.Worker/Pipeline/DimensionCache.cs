using System.Collections.Concurrent;

namespace Trulayer.Processor.Pipeline;

/// <summary>
/// The resources and scopes this process has seen, so a batch parses and stores each one once rather
/// than once per record. Bounded: when it grows past its limit it starts over, which costs only a few
/// re-parses and no-op inserts.
/// </summary>
internal sealed class DimensionCache
{
    private const int MaxEntries = 100_000;
    private readonly ConcurrentDictionary<(Guid ProjectId, Guid Id), Entry> _resources = new();
    private readonly ConcurrentDictionary<(Guid ProjectId, Guid Id), Entry> _scopes = new();

    public Entry? FindResource(Guid projectId, Guid resourceId) => _resources.GetValueOrDefault((projectId, resourceId));

    public Entry AddResource(Guid projectId, Guid resourceId, string? serviceName) => Add(_resources, (projectId, resourceId), new Entry(serviceName));

    public Entry? FindScope(Guid projectId, Guid scopeId) => _scopes.GetValueOrDefault((projectId, scopeId));

    public Entry AddScope(Guid projectId, Guid scopeId) => Add(_scopes, (projectId, scopeId), new Entry(null));

    public void MarkStored(Guid projectId, Guid resourceId, bool isScope)
    {
        if ((isScope ? _scopes : _resources).TryGetValue((projectId, resourceId), out var entry))
        {
            entry.Stored = true;
        }
    }

    private static Entry Add(ConcurrentDictionary<(Guid, Guid), Entry> map, (Guid, Guid) key, Entry entry)
    {
        if (map.Count >= MaxEntries)
        {
            map.Clear();
        }

        return map.GetOrAdd(key, entry);
    }

    /// <summary>What is known of one resource or scope.</summary>
    internal sealed class Entry(string? serviceName)
    {
        private volatile bool _stored;

        /// <summary>The resource's service.name (null for scopes).</summary>
        public string? ServiceName { get; } = serviceName;

        /// <summary>Whether a committed transaction has stored its row.</summary>
        public bool Stored { get => _stored; set => _stored = value; }
    }
}
