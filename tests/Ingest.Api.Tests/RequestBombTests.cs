using System.Globalization;
using System.IO.Compression;
using System.Net;
using Xunit.Abstractions;
using static Trulayer.Ingest.Tests.OtlpClient;

namespace Trulayer.Ingest.Tests;

/// <summary>Memory measurements run alone: a test running beside them would move the figures.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryCollection
{
    public const string Name = "memory";
}

[Collection(MemoryCollection.Name)]
public sealed class RequestBombTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private readonly KafkaFixture _kafka = new();
    private readonly IngestHost _host;

    private readonly ITestOutputHelper _output;

    public RequestBombTests(ITestOutputHelper output)
    {
        _output = output;
        _host = new IngestHost(_kafka);
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("deflate")]
    public async Task Export_TenMegabyteBombOfZeros_413WithoutInflatingIt(string coding)
    {
        var bomb = Bomb(10 * MiB, coding);
        using var client = _host.CreateHttpClient();
        using (var warmUp = await PostAsync(client, "/v1/otlp/traces", Gzip(new byte[1024]), Protobuf, ApiKey(Guid.NewGuid()), "gzip"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, warmUp.StatusCode);
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        ResetPeakResidentSet();
        var before = Status("VmRSS");

        using var response = await PostAsync(client, "/v1/otlp/traces", bomb, Protobuf, ApiKey(Guid.NewGuid()), coding);

        var growth = Status("VmHWM") - before;
        _output.WriteLine($"{coding} bomb of {bomb.Length / MiB} MiB: peak resident set grew by {growth / MiB} MiB");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("20 MiB after decompression", (await ReadErrorAsync(response)).Message, StringComparison.Ordinal);
        // About 10 GB inflated; the receiver holds at most its 20 MiB limit (a 32 MiB pooled buffer).
        Assert.True(growth < 100 * MiB, $"the process grew by {growth / MiB} MiB");
    }

    /// <summary>
    /// About <paramref name="compressedBytes"/> of compressed zeros that inflate hundreds-fold, built
    /// without compressing gigabytes: gzip as one member repeated (concatenated members are valid gzip),
    /// deflate as one zlib stream whose flushed block of zeros is repeated (each block refers only to
    /// the zeros before it).
    /// </summary>
    private static byte[] Bomb(long compressedBytes, string coding)
    {
        var zeros = new byte[MiB];
        var output = new MemoryStream();
        if (coding == "gzip")
        {
            var member = new MemoryStream();
            using (var gzip = new GZipStream(member, CompressionLevel.SmallestSize, leaveOpen: true))
            {
                for (var i = 0; i < 64; i++)
                {
                    gzip.Write(zeros);
                }
            }

            while (output.Length < compressedBytes)
            {
                output.Write(member.GetBuffer(), 0, (int)member.Length);
            }

            return output.ToArray();
        }

        var raw = new MemoryStream();
        using var deflate = new DeflateStream(raw, CompressionLevel.Optimal, leaveOpen: true);
        deflate.Write(zeros);
        deflate.Flush();
        var first = raw.ToArray();
        deflate.Write(zeros);
        deflate.Flush();
        var block = raw.ToArray()[first.Length..];
        Assert.NotEmpty(block);

        output.Write([0x78, 0x9C]);
        output.Write(first);
        while (output.Length < compressedBytes)
        {
            output.Write(block);
        }

        // A final empty block and a checksum the receiver never gets to.
        output.Write([0x03, 0x00, 0, 0, 0, 0]);
        return output.ToArray();
    }

    /// <summary>Resets the kernel's peak resident set size of this process to its current size (Linux 4.0+).</summary>
    private static void ResetPeakResidentSet() => File.WriteAllText("/proc/self/clear_refs", "5");

    /// <summary>A memory figure of /proc/self/status, in bytes.</summary>
    private static long Status(string field)
    {
        var line = File.ReadLines("/proc/self/status").Single(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        var kilobytes = line[(field.Length + 1)..].Trim().Split(' ')[0];
        return long.Parse(kilobytes, CultureInfo.InvariantCulture) * 1024;
    }

    public void Dispose()
    {
        _host.Dispose();
        _kafka.Dispose();
    }
}
