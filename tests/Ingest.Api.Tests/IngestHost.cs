using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Trulayer.AppHost.Run;

namespace Trulayer.Ingest.Tests;

/// <summary>
/// The real Ingest.Api (its own Program) on Kestrel, with the endpoints the AppHost gives it: <c>http</c>
/// and <c>grpc</c> (h2c, HTTP/2 only) on free ports, against a test class's dev Kafka broker. (The
/// factory is keyed by a type of Ingest.Api's assembly: <c>Program</c> alone is ambiguous next to the AppHost's.)
/// </summary>
public sealed class IngestHost : WebApplicationFactory<IngestService>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _configureServices;

    public IngestHost(KafkaFixture kafka, Dictionary<string, string?>? settings = null, Action<IServiceCollection>? configureServices = null)
    {
        Http = new Uri($"http://127.0.0.1:{Ports.GetFree()}");
        Grpc = new Uri($"http://127.0.0.1:{Ports.GetFree()}");
        _settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:kafka"] = kafka.BootstrapServers,
            [TestIdentity.Configuration.Key] = TestIdentity.Configuration.Value,
            ["Kestrel:Endpoints:http:Url"] = Http.ToString(),
            ["Kestrel:Endpoints:grpc:Url"] = Grpc.ToString(),
            ["Kestrel:Endpoints:grpc:Protocols"] = "Http2",
            ["Logging:LogLevel:Default"] = "Warning",
            // No processor consumes in these tests, so everything a class produces would count as backlog,
            // and one test's multi-megabyte trace would make the next test's answer a 503. Admission is
            // tested where something consumes: AdmissionTests here (the seam), EndToEnd's (the real lag).
            ["Ingest:Admission:Enabled"] = "false",
        };
        foreach (var (key, value) in settings ?? [])
        {
            _settings[key] = value;
        }

        _configureServices = configureServices;
        UseKestrel();
        StartServer();
        Metrics = new IngestMeterRecorder(Services.GetRequiredService<IMeterFactory>());
    }

    public Uri Http { get; }

    public Uri Grpc { get; }

    /// <summary>What this host reported on the "Trulayer.Ingest" meter since it started.</summary>
    public IngestMeterRecorder Metrics { get; }

    /// <summary>An HTTP/1.1 client of the http endpoint.</summary>
    public HttpClient CreateHttpClient() => new() { BaseAddress = Http, Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>An h2c (HTTP/2 with prior knowledge) client of the grpc endpoint.</summary>
    public HttpClient CreateGrpcClient() => new()
    {
        BaseAddress = Grpc,
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Timeout = TimeSpan.FromSeconds(60),
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        if (_configureServices is not null)
        {
            builder.ConfigureServices(_configureServices);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Metrics.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>Sums the measurements of one host's "Trulayer.Ingest" instruments.</summary>
public sealed class IngestMeterRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, double> _totals = [];
    private readonly Dictionary<string, int> _counts = [];
    private readonly Lock _lock = new();

    public IngestMeterRecorder(IMeterFactory scope)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == IngestMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, scope))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Add(instrument.Name, value));
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => Add(instrument.Name, value));
        _listener.Start();
    }

    /// <summary>The sum of an instrument's measurements (0 when it never reported).</summary>
    public double Total(string instrument)
    {
        lock (_lock)
        {
            return _totals.GetValueOrDefault(instrument);
        }
    }

    /// <summary>How many measurements an instrument reported.</summary>
    public int Count(string instrument)
    {
        lock (_lock)
        {
            return _counts.GetValueOrDefault(instrument);
        }
    }

    private void Add(string instrument, double value)
    {
        lock (_lock)
        {
            _totals[instrument] = _totals.GetValueOrDefault(instrument) + value;
            _counts[instrument] = _counts.GetValueOrDefault(instrument) + 1;
        }
    }

    public void Dispose() => _listener.Dispose();
}
