using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.Json;
using Trulayer.Otlp.Pipeline;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Ingest.Tests;

/// <summary>What the tests send and how they read what came back, over HTTP, gRPC and Kafka.</summary>
internal static class OtlpClient
{
    public const string Protobuf = "application/x-protobuf";
    public const string Json = "application/json";

    public static string ApiKey(Guid project) => TestIdentity.Sign(TestIdentity.ApiKey(project));

    public static async Task<HttpResponseMessage> PostAsync(
        HttpClient client, string path, byte[] body, string? contentType, string? identity, string? contentEncoding = null)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null)
        {
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        if (contentEncoding is not null)
        {
            content.Headers.ContentEncoding.Add(contentEncoding);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        if (identity is not null)
        {
            request.Headers.Add(IdentityAssertion.HeaderName, identity);
        }

        return await client.SendAsync(request);
    }

    public static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>HTTP's "deflate": the zlib format.</summary>
    public static byte[] Zlib(byte[] data)
    {
        var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.Fastest))
        {
            zlib.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>Raw deflate without the zlib header, which some clients send as "deflate".</summary>
    public static byte[] RawDeflate(byte[] data)
    {
        var output = new MemoryStream();
        using (var deflate = new DeflateStream(output, CompressionLevel.Fastest))
        {
            deflate.Write(data);
        }

        return output.ToArray();
    }

    public static async Task<ExportTraceServiceResponse> ReadResponseAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsByteArrayAsync();
        return response.Content.Headers.ContentType?.MediaType == Json
            ? OtlpJson.ParseExportTraceServiceResponse(body)
            : ExportTraceServiceResponse.Parser.ParseFrom(body);
    }

    /// <summary>The OTLP error of a non-200 answer, read in the encoding the response declares: (gRPC code, message).</summary>
    public static async Task<(int Code, string Message)> ReadErrorAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsByteArrayAsync();
        if (response.Content.Headers.ContentType?.MediaType == Json)
        {
            using var json = JsonDocument.Parse(body);
            var message = json.RootElement.GetProperty("message").GetString()!;
            Assert.Equal(message, json.RootElement.GetProperty("error").GetString());
            return (json.RootElement.GetProperty("code").GetInt32(), message);
        }

        Assert.Equal(Protobuf, response.Content.Headers.ContentType?.MediaType);
        var status = Google.Rpc.Status.Parser.ParseFrom(body);
        return (status.Code, status.Message);
    }

    /// <summary>The records of <paramref name="project"/> on the spans topic, each with its SpanBatch.</summary>
    public static List<(string Key, SpanBatch Batch)> RecordsOf(KafkaFixture kafka, Guid project)
        => kafka.ReadAll(ServiceDefaults.Kafka.KafkaTopics.Spans)
            .Select(r => (Key: System.Text.Encoding.UTF8.GetString(r.Message.Key ?? []), r.Message.Value))
            .Where(r => r.Key.StartsWith(project + ":", StringComparison.Ordinal))
            .Select(r => (r.Key, SpanBatch.Parser.ParseFrom(r.Value)))
            .ToList();

    /// <summary>The records of <paramref name="project"/> on the logs topic, each with its LogBatch.</summary>
    public static List<(string Key, LogBatch Batch)> LogRecordsOf(KafkaFixture kafka, Guid project)
        => kafka.ReadAll(ServiceDefaults.Kafka.KafkaTopics.Logs)
            .Select(r => (Key: System.Text.Encoding.UTF8.GetString(r.Message.Key ?? []), r.Message.Value))
            .Where(r => r.Key.StartsWith(project.ToString(), StringComparison.Ordinal))
            .Select(r => (r.Key, LogBatch.Parser.ParseFrom(r.Value)))
            .ToList();

    public static List<Span> SpansOf(IEnumerable<(string Key, SpanBatch Batch)> records)
        => records.SelectMany(r => r.Batch.ResourceSpans).SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).ToList();

    public static IEnumerable<Span> SpansOf(ExportTraceServiceRequest request)
        => request.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans);

    /// <summary>A unary gRPC message frame: compressed flag, big-endian length, bytes.</summary>
    public static byte[] GrpcFrame(byte[] message, bool compressed = false)
    {
        var frame = new byte[5 + message.Length];
        frame[0] = compressed ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }

    public static async Task<GrpcAnswer> GrpcExportAsync(
        HttpClient client, byte[] message, string? identity, bool gzip = false, string? grpcEncoding = null, IDictionary<string, string>? metadata = null, string? query = null,
        string path = Grpc.OtlpGrpcApi.ExportPath)
    {
        var content = new ByteArrayContent(GrpcFrame(gzip ? Gzip(message) : message, compressed: gzip));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        using var request = new HttpRequestMessage(HttpMethod.Post, path + query)
        {
            Content = content,
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (gzip || grpcEncoding is not null)
        {
            request.Headers.Add("grpc-encoding", grpcEncoding ?? "gzip");
        }

        if (identity is not null)
        {
            request.Headers.Add(IdentityAssertion.HeaderName, identity);
        }

        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
        {
            request.Headers.Add(key, value);
        }

        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        string? Header(string name) => response.TrailingHeaders.TryGetValues(name, out var t) ? t.Single()
            : response.Headers.TryGetValues(name, out var h) ? h.Single() : null;
        ExportTraceServiceResponse? answer = null;
        byte[]? messageBytes = null;
        if (body.Length >= 5)
        {
            Assert.True(body[0] == 0, $"not a gRPC message: {(int)response.StatusCode} {response.Content.Headers.ContentType}: {System.Text.Encoding.UTF8.GetString(body)}");
            Assert.Equal(body.Length - 5, (int)BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(1)));
            messageBytes = body[5..];
            answer = ExportTraceServiceResponse.Parser.ParseFrom(messageBytes);
        }

        return new GrpcAnswer(
            (int)response.StatusCode,
            response.Content.Headers.ContentType?.MediaType,
            int.Parse(Header("grpc-status") ?? "-1", System.Globalization.CultureInfo.InvariantCulture),
            Uri.UnescapeDataString(Header("grpc-message") ?? ""),
            Header("grpc-retry-pushback-ms"),
            answer,
            response.TrailingHeaders.Contains("grpc-status"),
            messageBytes);
    }
}

/// <summary>What a gRPC call answered: HTTP status, grpc-status (from trailers or a trailers-only HEADERS frame) and the message.</summary>
internal sealed record GrpcAnswer(
    int HttpStatus, string? ContentType, int GrpcStatus, string GrpcMessage, string? RetryPushbackMs, ExportTraceServiceResponse? Response, bool StatusInTrailers,
    byte[]? Message = null);
