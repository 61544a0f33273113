using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Proto.Collector.Trace.V1;
using Trulayer.Workload.Load;

namespace Trulayer.EndToEnd.Tests;

/// <summary>
/// The load engine behaves like a well-made OTLP exporter: against a server that answers from a script,
/// it retries only what the OTLP specification allows, waits what the server asks, and never repeats a
/// request that was refused or partly rejected.
/// </summary>
public sealed class RetryBehaviourTests : IAsyncLifetime
{
    private readonly ConcurrentQueue<Func<HttpContext, Task>> _script = new();
    private readonly ConcurrentQueue<long> _attempts = new();
    private WebApplication? _server;
    private Uri _http = null!;
    private Uri _grpc = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2);
        });
        _server = builder.Build();
        _server.MapPost("/v1/otlp/traces", Answer);
        _server.MapPost(LoadTarget.GrpcExportPath, Answer);
        await _server.StartAsync();
        var addresses = _server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a)).ToList();
        _http = addresses[0];
        _grpc = addresses[1];
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Http503WithRetryAfter_IsRetriedAfterTheWaitTheServerAsked()
    {
        Script(Status(503, retryAfter: "1"), Status(200));

        var (driver, attempts) = await SendOneAsync(LoadTransport.HttpProtobuf);

        Assert.Equal(2, attempts.Count);
        Assert.True(attempts[1] - attempts[0] >= TimeSpan.FromSeconds(1), $"retried after {attempts[1] - attempts[0]}");
        Assert.Equal(1, driver.Progress.Snapshot().AcknowledgedRequests);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(401)]
    [InlineData(413)]
    [InlineData(500)]
    public async Task HttpStatusOtlpCallsPermanent_IsNeverRetried(int status)
    {
        Script(Status(status), Status(200));

        var (driver, attempts) = await SendOneAsync(LoadTransport.HttpProtobuf);

        Assert.Single(attempts);
        Assert.Equal(1, driver.Progress.Snapshot().RefusedRequests);
        Assert.True(driver.Ledger.TryGet(1, out var entry) && entry.State == RequestState.Refused);
    }

    [Theory]
    [InlineData(429)]
    [InlineData(502)]
    [InlineData(504)]
    public async Task HttpStatusOtlpCallsTransient_IsRetriedWithBackoff(int status)
    {
        Script(Status(status), Status(status), Status(200));

        var (driver, attempts) = await SendOneAsync(LoadTransport.HttpProtobuf);

        Assert.Equal(3, attempts.Count);
        Assert.Equal(2, driver.Progress.Snapshot().Retries);
        Assert.True(driver.Ledger.TryGet(1, out var entry) && entry.State == RequestState.Acknowledged);
    }

    [Fact]
    public async Task PartialSuccess_IsAcknowledgedWithItsRejectedSpansAndNeverRetried()
    {
        var response = new ExportTraceServiceResponse { PartialSuccess = new ExportTracePartialSuccess { RejectedSpans = 3, ErrorMessage = "3 spans rejected" } };
        Script(context => Write(context, 200, "application/x-protobuf", response.ToByteArray()), Status(200));

        var (driver, attempts) = await SendOneAsync(LoadTransport.HttpProtobuf);

        Assert.Single(attempts);
        var progress = driver.Progress.Snapshot();
        Assert.Equal(3, progress.PartiallyRejectedSpans);
        Assert.Equal(driver.Template.SpanCount - 3, progress.AcknowledgedSpans);
        Assert.True(driver.Ledger.TryGet(1, out var entry) && entry is { State: RequestState.Acknowledged, RejectedSpans: 3 });
    }

    [Fact]
    public async Task GrpcUnavailableWithPushback_IsRetriedAfterThePushback()
    {
        Script(Grpc(14, pushbackMs: 700), Grpc(0));

        var (driver, attempts) = await SendOneAsync(LoadTransport.Grpc);

        Assert.Equal(2, attempts.Count);
        Assert.True(attempts[1] - attempts[0] >= TimeSpan.FromMilliseconds(700), $"retried after {attempts[1] - attempts[0]}");
        Assert.Equal(1, driver.Progress.Snapshot().AcknowledgedRequests);
    }

    [Theory]
    [InlineData(3, null)] // INVALID_ARGUMENT
    [InlineData(8, null)] // RESOURCE_EXHAUSTED without a delay: the request itself is too large
    public async Task GrpcStatusOtlpCallsPermanent_IsNeverRetried(int code, int? pushbackMs)
    {
        Script(Grpc(code, pushbackMs), Grpc(0));

        var (driver, attempts) = await SendOneAsync(LoadTransport.Grpc);

        Assert.Single(attempts);
        Assert.Equal(1, driver.Progress.Snapshot().RefusedRequests);
    }

    private async Task<(LoadDriver Driver, List<TimeSpan> Attempts)> SendOneAsync(LoadTransport transport)
    {
        var driver = new LoadDriver(new LoadTarget(_http, _grpc, "tl_test", Guid.NewGuid(), null, null), new LoadSettings
        {
            Transport = transport,
            Senders = 1,
            MaxSpans = 10,
            SpansPerRequest = 10,
            TracesPerRequest = 1,
            Retry = new RetryPolicy { InitialBackoff = TimeSpan.FromMilliseconds(50), GiveUpAfter = TimeSpan.FromSeconds(30) },
        });
        await driver.RunAsync(CancellationToken.None);
        driver.Dispose();
        return (driver, [.. _attempts.Select(t => TimeSpan.FromTicks(t))]);
    }

    private void Script(params Func<HttpContext, Task>[] answers)
    {
        foreach (var answer in answers)
        {
            _script.Enqueue(answer);
        }
    }

    private async Task Answer(HttpContext context)
    {
        await context.Request.Body.CopyToAsync(Stream.Null);
        _attempts.Enqueue(Stopwatch.GetElapsedTime(0).Ticks);
        var answer = _script.TryDequeue(out var next) ? next : Status(500);
        await answer(context);
    }

    private static Func<HttpContext, Task> Status(int status, string? retryAfter = null) => context =>
    {
        if (retryAfter is not null)
        {
            context.Response.Headers.RetryAfter = retryAfter;
        }

        return Write(context, status, "application/x-protobuf", status == 200 ? new ExportTraceServiceResponse().ToByteArray() : []);
    };

    private static Func<HttpContext, Task> Grpc(int code, int? pushbackMs = null) => async context =>
    {
        context.Response.ContentType = "application/grpc";
        if (code != 0)
        {
            context.Response.Headers["grpc-status"] = code.ToString(System.Globalization.CultureInfo.InvariantCulture);
            context.Response.Headers["grpc-message"] = "scripted";
            if (pushbackMs is { } ms)
            {
                context.Response.Headers["grpc-retry-pushback-ms"] = ms.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            return;
        }

        var message = new ExportTraceServiceResponse().ToByteArray();
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        await context.Response.Body.WriteAsync(frame);
        context.Response.AppendTrailer("grpc-status", "0");
    };

    private static Task Write(HttpContext context, int status, string contentType, byte[] body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        return context.Response.Body.WriteAsync(body).AsTask();
    }
}
