using System.Text.Json;

namespace Trulayer.Otlp.Tests;

public sealed class OtlpErrorTests
{
    [Theory]
    [InlineData(400, GrpcStatusCode.InvalidArgument)]
    [InlineData(401, GrpcStatusCode.Unauthenticated)]
    [InlineData(403, GrpcStatusCode.PermissionDenied)]
    [InlineData(413, GrpcStatusCode.ResourceExhausted)]
    [InlineData(429, GrpcStatusCode.ResourceExhausted)]
    [InlineData(503, GrpcStatusCode.Unavailable)]
    public void CodeFor_HttpStatus_IsTheOtlpPairing(int http, GrpcStatusCode expected) => Assert.Equal(expected, OtlpError.CodeFor(http));

    [Fact]
    public void ToProtobuf_IsAGoogleRpcStatus()
    {
        var status = Google.Rpc.Status.Parser.ParseFrom(OtlpError.ToProtobuf(GrpcStatusCode.InvalidArgument, "bad span"));

        Assert.Equal(3, status.Code);
        Assert.Equal("bad span", status.Message);
    }

    [Fact]
    public void ToJson_HasCodeMessageAndError()
    {
        using var json = JsonDocument.Parse(OtlpError.ToJson(GrpcStatusCode.Unavailable, "try \"later\""));

        Assert.Equal(14, json.RootElement.GetProperty("code").GetInt32());
        Assert.Equal("try \"later\"", json.RootElement.GetProperty("message").GetString());
        Assert.Equal("try \"later\"", json.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public void ToJson_KeepsQuotesReadable()
    {
        var json = System.Text.Encoding.UTF8.GetString(OtlpError.ToJson(GrpcStatusCode.InvalidArgument, "Content-Type 'text/plain' is not supported"));

        Assert.Contains("'text/plain'", json, StringComparison.Ordinal);
    }
}
