using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.AppHost.Run;

/// <summary>
/// The dev Kafka broker: librdkafka's mock cluster, a real Kafka-protocol broker (produce, fetch,
/// consumer groups, idempotent producers) listening on loopback, held in this process's memory.
/// </summary>
/// <remarks>
/// No Docker engine runs here and no Kafka distribution is installable, so the broker librdkafka ships
/// for its own tests stands in; clients reach it over TCP exactly as they reach a real cluster. Its
/// retention is fixed in librdkafka: 5 MiB and 100,000 message sets per partition, oldest dropped
/// first, which is why the spans topic has many partitions and the processor must keep consuming.
/// </remarks>
public sealed partial class DevKafkaBroker : IDisposable
{
    private const int ProducerType = 0;
    private readonly IntPtr _handle;
    private readonly IntPtr _cluster;
    private readonly int _brokerCount;
    private readonly HashSet<int> _ports;
    private readonly HashSet<long> _tuned = [];
    private readonly Lock _tuneLock = new();
    private readonly Timer _tuner;
    private bool _disposed;

    private static readonly List<DevKafkaBroker> Running = [];

    private DevKafkaBroker(IntPtr handle, IntPtr cluster, int brokerCount, string bootstrapServers)
    {
        _handle = handle;
        _cluster = cluster;
        _brokerCount = brokerCount;
        BootstrapServers = bootstrapServers;
        _ports = [.. bootstrapServers.Split(',').Select(b => int.Parse(b[(b.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture))];
        TuneSockets();
        lock (Running)
        {
            Running.Add(this);
        }

        _tuner = new Timer(_ => TuneSockets(), null, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(250));
    }

    /// <summary>host:port of the broker(s), on 127.0.0.1 and a port librdkafka picks.</summary>
    public string BootstrapServers { get; }

    public bool IsUp { get; private set; } = true;

    public static DevKafkaBroker Start(int brokerCount = 1)
    {
        KafkaNative.EnsureRegistered();
        ReturnFreedLogsToTheSystem();
        var conf = rd_kafka_conf_new();
        var error = new byte[512];
        // The handle only hosts the cluster; it never connects anywhere, so its warnings are noise.
        rd_kafka_conf_set(conf, "log_level", "3", error, (nuint)error.Length);
        var handle = rd_kafka_new(ProducerType, conf, error, (nuint)error.Length);
        if (handle == IntPtr.Zero)
        {
            throw new InvalidOperationException($"librdkafka could not create a handle for the dev broker: {Decode(error)}");
        }

        var cluster = rd_kafka_mock_cluster_new(handle, brokerCount);
        if (cluster == IntPtr.Zero)
        {
            rd_kafka_destroy(handle);
            throw new InvalidOperationException("librdkafka could not start the dev broker (rd_kafka_mock_cluster_new failed)");
        }

        var bootstrap = Marshal.PtrToStringUTF8(rd_kafka_mock_cluster_bootstraps(cluster))!;
        return new DevKafkaBroker(handle, cluster, brokerCount, bootstrap);
    }

    public void CreateTopic(string name, int partitions)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var result = rd_kafka_mock_topic_create(_cluster, name, partitions, Math.Min(_brokerCount, 3));
        if (result != 0)
        {
            throw new InvalidOperationException($"the dev broker could not create topic {name} ({partitions} partitions): error {result}");
        }
    }

    /// <summary>Drops every connection and refuses new ones, keeping the data: a broker outage.</summary>
    public void SetDown() => SetAll(up: false);

    /// <summary>Accepts connections again after <see cref="SetDown"/>.</summary>
    public void SetUp() => SetAll(up: true);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _tuner.Dispose();
        lock (Running)
        {
            Running.Remove(this);
        }

        rd_kafka_mock_cluster_destroy(_cluster);
        rd_kafka_destroy(_handle);
    }

    private void SetAll(bool up)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (var broker = 1; broker <= _brokerCount; broker++)
        {
            _ = up ? rd_kafka_mock_broker_set_up(_cluster, broker) : rd_kafka_mock_broker_set_down(_cluster, broker);
        }

        IsUp = up;
    }

    /// <summary>
    /// Two things the mock broker does not do for its sockets, done here for it, for every socket of this
    /// process on a broker port (the listener and each client's connection, found through /proc):
    /// <list type="bullet">
    /// <item>TCP_NODELAY, as a real Kafka broker sets it. librdkafka sends one produce request per
    /// partition; with Nagle on, the broker's answer to one of them waited for the client's delayed ACK,
    /// adding about 40 ms to every ingest request whose spans went to several partitions.</item>
    /// <item>close-on-exec, so the services this process starts (and restarts) do not inherit the broker's
    /// sockets: a connection the broker closes, in an outage, say, must really close.</item>
    /// </list>
    /// </summary>
    private void TuneSockets()
    {
        lock (_tuneLock)
        {
            try
            {
                var inodes = BrokerSocketInodes();
                if (inodes.Count == 0)
                {
                    return;
                }

                foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
                {
                    if (new FileInfo(entry).LinkTarget is not { } target || !target.StartsWith("socket:[", StringComparison.Ordinal)
                        || !long.TryParse(target.AsSpan(8, target.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture, out var inode)
                        || !inodes.Contains(inode) || !_tuned.Add(inode)
                        || !int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var fd))
                    {
                        continue;
                    }

                    var one = 1;
                    _ = setsockopt(fd, IpProtoTcp, TcpNoDelay, ref one, sizeof(int));
                    _ = fcntl(fd, FSetFd, FdCloExec);
                }

                _tuned.IntersectWith(inodes);
            }
            catch (IOException)
            {
                // A socket closed while being looked at: the next round sees the current ones.
            }
        }
    }

    /// <summary>Called right before this process starts a child: no broker socket opened since the last round leaks into it.</summary>
    public static void TuneSocketsOfRunningBrokers()
    {
        lock (Running)
        {
            foreach (var broker in Running)
            {
                broker.TuneSockets();
            }
        }
    }

    /// <summary>Inodes of the TCP sockets whose local port is a broker's (/proc/net/tcp: "sl local rem st ... uid timeout inode").</summary>
    private HashSet<long> BrokerSocketInodes()
    {
        var inodes = new HashSet<long>();
        foreach (var table in new[] { "/proc/self/net/tcp", "/proc/self/net/tcp6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }

            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var local = fields[1];
                if (fields.Length > 9
                    && int.TryParse(local.AsSpan(local.LastIndexOf(':') + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var port)
                    && _ports.Contains(port)
                    && long.TryParse(fields[9], NumberStyles.None, CultureInfo.InvariantCulture, out var inode) && inode != 0)
                {
                    inodes.Add(inode);
                }
            }
        }

        return inodes;
    }

    /// <summary>
    /// The broker keeps each partition's log as one allocation per record batch (a GenAI trace: about 160 KiB)
    /// and drops the oldest past the retention; its fetch responses are large short-lived buffers. glibc
    /// serves such sizes from mmap at first, but raises that threshold to the largest block freed so far,
    /// after which they come from its heaps, where freed memory stays with the process, scattered. A fixed
    /// threshold (128 KiB, glibc's initial one) keeps them in mmap: what the broker frees goes back to the system.
    /// </summary>
    private static void ReturnFreedLogsToTheSystem()
    {
        const int mmapThreshold = -3;
        _ = mallopt(mmapThreshold, 128 * 1024);
    }

    [LibraryImport("libc")]
    private static partial int mallopt(int parameter, int value);

    private const int IpProtoTcp = 6;
    private const int TcpNoDelay = 1;
    private const int FSetFd = 2;
    private const int FdCloExec = 1;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int socket, int level, int option, ref int value, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);

    private static string Decode(byte[] error) => Encoding.UTF8.GetString(error, 0, Math.Max(0, Array.IndexOf(error, (byte)0)));

    [LibraryImport(KafkaNative.LibraryName)]
    private static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(KafkaNative.LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte[] errstr, nuint errstrSize);

    [LibraryImport(KafkaNative.LibraryName)]
    private static partial IntPtr rd_kafka_new(int type, IntPtr conf, byte[] errstr, nuint errstrSize);

    [LibraryImport(KafkaNative.LibraryName)]
    private static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(KafkaNative.LibraryName)]
    private static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [LibraryImport(KafkaNative.LibraryName)]
    private static partial void rd_kafka_mock_cluster_destroy(IntPtr cluster);

    [LibraryImport(KafkaNative.LibraryName)]
    private static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr cluster);

    [LibraryImport(KafkaNative.LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rd_kafka_mock_topic_create(IntPtr cluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(KafkaNative.LibraryName)]
    private static partial int rd_kafka_mock_broker_set_down(IntPtr cluster, int brokerId);

    [LibraryImport(KafkaNative.LibraryName)]
    private static partial int rd_kafka_mock_broker_set_up(IntPtr cluster, int brokerId);
}
