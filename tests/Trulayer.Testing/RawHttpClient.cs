using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Trulayer.Testing;

/// <summary>The status, headers and body of an HTTP/1.1 answer read off a raw socket.</summary>
public sealed record RawHttpResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body);

/// <summary>
/// An HTTP/1.1 client as blunt as many real ones (Python's http.client, the OTel Python exporter): no
/// <c>Expect: 100-continue</c>, it writes the whole body before it reads a byte of the answer. If the
/// server closes the connection while the body is still coming, the write fails with a reset.
/// </summary>
public static class RawHttpClient
{
    public static async Task<RawHttpResponse> PostWholeBodyThenReadAsync(
        Uri server, string pathAndQuery, byte[] body, IReadOnlyDictionary<string, string> headers, TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, cancel.Token);
        var stream = client.GetStream();

        var head = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"POST {pathAndQuery} HTTP/1.1\r\n")
            .Append(CultureInfo.InvariantCulture, $"Host: {server.Authority}\r\n")
            .Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\n")
            .Append("Connection: close\r\n");
        foreach (var (name, value) in headers)
        {
            head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }

        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.Append("\r\n").ToString()), cancel.Token);
        await stream.WriteAsync(body, cancel.Token);
        await stream.FlushAsync(cancel.Token);

        var received = new MemoryStream();
        await stream.CopyToAsync(received, cancel.Token);
        var text = Encoding.UTF8.GetString(received.ToArray());
        var endOfHead = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (endOfHead < 0)
        {
            throw new InvalidOperationException($"no complete HTTP answer: '{text}'");
        }

        var lines = text[..endOfHead].Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var parsed = lines.Skip(1)
            .Select(l => l.Split(':', 2))
            .GroupBy(p => p[0].Trim(), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.Last()[1].Trim(), StringComparer.OrdinalIgnoreCase);
        return new RawHttpResponse(status, parsed, text[(endOfHead + 4)..]);
    }
}
