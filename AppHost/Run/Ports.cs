using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Trulayer.AppHost.Run;

/// <summary>
/// Ports for the services the AppHost (and the tests' stacks) start. A port is chosen seconds before
/// the service binds it, so "free right now" is not enough: the OS's own pick (bind to port 0) comes
/// from the ephemeral range, where any outgoing connection of any process may take it meanwhile, and
/// several test processes picking at once can pick the same one. So a port is chosen below the
/// ephemeral range, where the OS never assigns source ports, and reserved for the life of this process
/// with a lock file (flock) that every Trulayer process honours and the OS releases when it exits.
/// </summary>
public static class Ports
{
    private const int LowestChosen = 20_000;

    private static readonly string ReservationDirectory = Path.Combine(Path.GetTempPath(), "trulayer-ports");
    private static readonly ConcurrentBag<FileStream> Reservations = [];

    /// <summary>A port free on 127.0.0.1 now and reserved for this process, so no other Trulayer process picks it.</summary>
    public static int GetFree()
    {
        var highestChosen = EphemeralRangeStart() - 1;
        if (highestChosen - LowestChosen < 1_000)
        {
            return PickedByTheOs();
        }

        Directory.CreateDirectory(ReservationDirectory);
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(LowestChosen, highestChosen + 1);
            if (TryReserve(port) && IsFree(port))
            {
                return port;
            }
        }

        return PickedByTheOs();
    }

    public static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static bool TryReserve(int port)
    {
        try
        {
            // FileShare.None takes an exclusive flock on Unix; it is held until this process exits.
            Reservations.Add(new FileStream(
                Path.Combine(ReservationDirectory, port.ToString(CultureInfo.InvariantCulture)),
                FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The first port of the range the OS assigns to outgoing connections (Linux: ip_local_port_range).</summary>
    private static int EphemeralRangeStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32_768;
        }
    }

    private static int PickedByTheOs()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
