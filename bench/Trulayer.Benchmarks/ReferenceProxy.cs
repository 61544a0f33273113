using System.Diagnostics;
using System.Net.Sockets;
using Trulayer.AppHost.Run;

namespace Trulayer.Benchmarks;

/// <summary>
/// nginx from Debian's packages as a plain reverse proxy in front of one upstream: keep-alive
/// connections both ways, the body held in memory, no access log, one process. It checks no
/// credential and signs nothing, so it is the floor of what any proxy costs on this machine, measured
/// beside the gateway to tell the cost of proxying here from the cost of ours.
/// </summary>
internal sealed class ReferenceProxy : IDisposable
{
    public const string NginxPath = "/usr/sbin/nginx";

    private readonly Process _process;
    private readonly string _directory;

    private ReferenceProxy(Process process, string directory, Uri address)
    {
        _process = process;
        _directory = directory;
        Address = address;
    }

    public Uri Address { get; }

    public int ProcessId => _process.Id;

    /// <summary>Why there is no reference proxy on this machine.</summary>
    public static string Missing => $"{NginxPath} is missing: the reference proxy is Debian's nginx (apt-get install nginx-light)";

    /// <summary>nginx in front of <paramref name="upstream"/>, or null when nginx is not installed.</summary>
    public static async Task<ReferenceProxy?> TryStartAsync(Uri upstream)
    {
        if (!File.Exists(NginxPath))
        {
            return null;
        }

        var port = Ports.GetFree();
        var directory = Directory.CreateTempSubdirectory("trulayer-bench-nginx-").FullName;
        var config = Path.Combine(directory, "nginx.conf");
        await File.WriteAllTextAsync(config, $$"""
            daemon off;
            master_process off;
            worker_processes 1;
            pid {{directory}}/nginx.pid;
            error_log {{directory}}/error.log warn;
            events { worker_connections 1024; }
            http {
              access_log off;
              client_body_temp_path {{directory}}/body;
              proxy_temp_path {{directory}}/proxy;
              upstream service { server {{upstream.Host}}:{{upstream.Port}}; keepalive 64; }
              server {
                listen 127.0.0.1:{{port}};
                client_max_body_size 20m;
                client_body_buffer_size 1m;
                location / {
                  proxy_pass http://service;
                  proxy_http_version 1.1;
                  proxy_set_header Connection "";
                }
              }
            }
            """);
        var process = Process.Start(new ProcessStartInfo(NginxPath, ["-p", directory, "-c", config]) { RedirectStandardError = true })
                      ?? throw new InvalidOperationException("nginx did not start");
        var proxy = new ReferenceProxy(process, directory, new Uri($"http://127.0.0.1:{port}"));
        await proxy.WaitListeningAsync(port);
        return proxy;
    }

    private async Task WaitListeningAsync(int port)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"nginx exited: {await _process.StandardError.ReadToEndAsync()}");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        throw new InvalidOperationException($"nginx is not listening on {port} after 5 s");
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
