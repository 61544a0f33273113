using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;

namespace Trulayer.Gateway.Tests;

/// <summary>OTLP/gRPC through the gateway's HTTP/2 port: authentication from the authorization metadata, refusals as gRPC statuses.</summary>
[Collection(GatewayCollection.Name)]
public sealed class GrpcTests(GatewayStack stack)
{
    private sealed record GrpcAnswer(HttpStatusCode HttpStatus, string? GrpcStatus, string? GrpcMessage, string? PushbackMs);

    /// <summary>One unary TraceService/Export call over h2c, framed by hand (a 5-byte prefix, then the message).</summary>
    private async Task<GrpcAnswer> ExportAsync(string? credential, string path = "/opentelemetry.proto.collector.trace.v1.TraceService/Export")
    {
        var message = new ExportTraceServiceRequest().ToByteArray();
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        using var content = new ByteArrayContent(frame);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(stack.GatewayGrpc, path))
        {
            Content = content,
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (credential is not null)
        {
            request.Headers.TryAddWithoutValidation("authorization", "Bearer " + credential);
        }

        using var response = await stack.Http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        string? Header(string name)
            => response.Headers.TryGetValues(name, out var values) || response.TrailingHeaders.TryGetValues(name, out values) ? values.Single() : null;
        return new GrpcAnswer(response.StatusCode, Header("grpc-status"), Header("grpc-message"), Header("grpc-retry-pushback-ms"));
    }

    [Fact]
    public async Task Export_WithoutCredential_IsUnauthenticated16()
    {
        var answer = await ExportAsync(null);

        Assert.Equal(HttpStatusCode.OK, answer.HttpStatus);
        Assert.Equal("16", answer.GrpcStatus);
        Assert.Contains("authorization", Uri.UnescapeDataString(answer.GrpcMessage!), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_WithRevokedOrUnknownKey_IsUnauthenticated16()
    {
        var answer = await ExportAsync(Trulayer.ServiceDefaults.Identity.ApiKeyFormat.Generate());

        Assert.Equal("16", answer.GrpcStatus);
        Assert.Contains("not known", Uri.UnescapeDataString(answer.GrpcMessage!), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("owner")]
    [InlineData("viewer")]
    public async Task Export_WithASession_IsPermissionDenied7(string role)
    {
        var answer = await ExportAsync(stack.Dev.Sessions![role]);

        Assert.Equal("7", answer.GrpcStatus);
    }

    [Fact]
    public async Task Export_WithAnApiKey_IsForwardedToIngest()
    {
        var (key, _) = await stack.CreateApiKeyAsync(stack.Owner, stack.DevProject);

        var answer = await ExportAsync(key);

        Assert.True(answer.GrpcStatus == "0", $"{answer.HttpStatus} grpc-status {answer.GrpcStatus} {answer.GrpcMessage}");
    }

    [Fact]
    public async Task Export_OverTheKeysBurst_IsResourceExhausted8WithPushback()
    {
        var (key, _) = await stack.CreateApiKeyAsync(stack.Owner, stack.DevProject);

        var answers = await Task.WhenAll(Enumerable.Range(0, GatewayStack.ApiKeyBurst * 3).Select(_ => ExportAsync(key)));

        var limited = answers.Where(a => a.GrpcStatus == "8").ToList();
        Assert.NotEmpty(limited);
        Assert.InRange(long.Parse(limited[0].PushbackMs!, System.Globalization.CultureInfo.InvariantCulture), 1, 10_000);
    }

    [Fact]
    public async Task UnknownMethod_OnTheGrpcPort_IsUnimplemented12()
    {
        var answer = await ExportAsync(stack.Dev.ApiKey, "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export");

        Assert.Equal("12", answer.GrpcStatus);
        Assert.Contains("LogsService/Export", Uri.UnescapeDataString(answer.GrpcMessage!), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LogsExport_WithAnApiKey_IsForwardedToIngest()
    {
        var (key, _) = await stack.CreateApiKeyAsync(stack.Owner, stack.DevProject);

        var answer = await ExportAsync(key, GatewayRoutes.GrpcLogsExportPath);

        Assert.True(answer.GrpcStatus == "0", $"{answer.HttpStatus} grpc-status {answer.GrpcStatus} {answer.GrpcMessage}");
    }

    [Fact]
    public async Task LogsExport_WithASession_IsPermissionDenied7()
    {
        var answer = await ExportAsync(stack.Dev.Sessions!["owner"], GatewayRoutes.GrpcLogsExportPath);

        Assert.Equal("7", answer.GrpcStatus);
    }

    [Fact]
    public async Task MetricsExport_WithAnApiKey_IsUnimplemented12FromIngestWithTheReason()
    {
        var (key, _) = await stack.CreateApiKeyAsync(stack.Owner, stack.DevProject);

        var answer = await ExportAsync(key, GatewayRoutes.GrpcMetricsExportPath);

        Assert.Equal("12", answer.GrpcStatus);
        Assert.Contains("does not accept OTLP metrics", Uri.UnescapeDataString(answer.GrpcMessage!), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HttpRoute_OnTheGrpcPort_IsNotServed()
    {
        var answer = await ExportAsync(stack.Owner, "/v1/session");

        Assert.Equal("12", answer.GrpcStatus);
    }

    [Fact]
    public async Task GrpcRoute_OnTheHttpPort_IsNotServed()
    {
        using var response = await stack.SendAsync(HttpMethod.Post, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", stack.Dev.ApiKey, GatewayStack.OtlpProtobuf());

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
