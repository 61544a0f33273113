using System.Globalization;
using Trulayer.AppHost.Run;

namespace Trulayer.AppHost.Tests;

public sealed class PortsTests
{
    [Fact]
    public void GetFree_ChoosesBelowTheEphemeralRangeAndReservesIt()
    {
        var ephemeralStart = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split('\t', ' ')[0], CultureInfo.InvariantCulture);

        var ports = Enumerable.Range(0, 20).Select(_ => Ports.GetFree()).ToList();

        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, port => Assert.InRange(port, 20_000, ephemeralStart - 1));
        Assert.All(ports, port => Assert.True(Ports.IsFree(port)));
        // Another process (or another open here) cannot take the reservation while this process lives.
        var reservation = Path.Combine(Path.GetTempPath(), "trulayer-ports", ports[0].ToString(CultureInfo.InvariantCulture));
        Assert.Throws<IOException>(() => new FileStream(reservation, FileMode.Open, FileAccess.ReadWrite, FileShare.None).Dispose());
    }
}
