using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Trulayer.AppHost.Run;

namespace Trulayer.AppHost.Tests;

/// <summary>The dev broker's side of a client's connection, as the kernel reports it.</summary>
public sealed partial class DevKafkaBrokerTests
{
    [Fact]
    public async Task BrokerSideOfAConnection_HasNoDelayAndCloseOnExec()
    {
        using var broker = DevKafkaBroker.Start();
        var port = int.Parse(broker.BootstrapServers[(broker.BootstrapServers.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        var clientPort = ((System.Net.IPEndPoint)client.Client.LocalEndPoint!).Port;

        // The broker accepts the connection on its own thread and tunes new sockets within a quarter of a
        // second; wait for both rather than assume (a loaded machine takes longer).
        (int NoDelay, int FdFlags) options = default;
        int? fd = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            fd = BrokerSideDescriptor(port, clientPort);
            if (fd is not null)
            {
                options = (NoDelay(fd.Value), fcntl(fd.Value, 1 /* F_GETFD */, 0));
                if (options.NoDelay == 1 && (options.FdFlags & 1) == 1)
                {
                    break;
                }
            }

            await Task.Delay(50);
        }

        Assert.True(fd is not null, $"no socket of this process has local port {port} and remote port {clientPort}");
        Assert.Equal(1, options.NoDelay);
        Assert.Equal(1, options.FdFlags & 1 /* FD_CLOEXEC */);
    }

    private static int NoDelay(int fd)
    {
        var value = 0;
        var length = sizeof(int);
        Assert.Equal(0, getsockopt(fd, 6 /* IPPROTO_TCP */, 1 /* TCP_NODELAY */, ref value, ref length));
        return value;
    }

    /// <summary>The descriptor of the accepted socket: local port the broker's, remote port the client's.</summary>
    private static int? BrokerSideDescriptor(int brokerPort, int clientPort)
    {
        var inode = File.ReadLines("/proc/self/net/tcp").Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => Port(f[1]) == brokerPort && Port(f[2]) == clientPort)
            .Select(f => f[9])
            .FirstOrDefault();
        if (inode is null)
        {
            return null;
        }

        foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            if (new FileInfo(entry).LinkTarget == $"socket:[{inode}]")
            {
                return int.Parse(Path.GetFileName(entry), CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    private static int Port(string address) => int.Parse(address[(address.LastIndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getsockopt(int socket, int level, int option, ref int value, ref int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);
}
