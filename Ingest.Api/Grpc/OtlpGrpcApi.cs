using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;
using Trulayer.Ingest.Http;
using Trulayer.Otlp;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Ingest.Grpc;

/// <summary>
/// OTLP/gRPC <c>opentelemetry.proto.collector.trace.v1.TraceService/Export</c> and
/// <c>opentelemetry.proto.collector.logs.v1.LogsService/Export</c> (MetricsService/Export is refused with
/// UNIMPLEMENTED and the reason), served by hand on
/// Kestrel's HTTP/2 (Grpc.AspNetCore cannot be restored here): the request's one length-prefixed
/// message (grpc-encoding gzip or identity) in, the response message and grpc-status trailers out.
/// Ingest listens for it on its <c>grpc</c> endpoint (h2c, HTTP/2 only).
/// </summary>
public static class OtlpGrpcApi
{
    public const string ExportPath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    public const string LogsExportPath = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    public const string MetricsExportPath = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    private const int FrameHeaderBytes = 5;

    public static bool IsGrpcRequest(HttpRequest request)
        => request.ContentType is { } contentType && contentType.StartsWith(GrpcResult.ContentType, StringComparison.OrdinalIgnoreCase);

    public static Task<GrpcResult> ExportTracesAsync(HttpContext context, CallerIdentity caller, IngestService ingest, IngestMetrics metrics)
        => ExportAsync(context, caller, ingest, metrics, OtlpSignal.Traces);

    public static Task<GrpcResult> ExportLogsAsync(HttpContext context, CallerIdentity caller, IngestService ingest, IngestMetrics metrics)
        => ExportAsync(context, caller, ingest, metrics, OtlpSignal.Logs);

    /// <summary>MetricsService/Export: UNIMPLEMENTED, which no OTLP client retries, with the reason.</summary>
    public static GrpcResult RefuseMetrics(IngestMetrics metrics)
    {
        metrics.RequestCompleted("grpc", GrpcStatusCode.Unimplemented.ToString());
        return GrpcResult.Error(GrpcStatusCode.Unimplemented, IngestHttpApi.MetricsRefusal);
    }

    private static async Task<GrpcResult> ExportAsync(HttpContext context, CallerIdentity caller, IngestService ingest, IngestMetrics metrics, OtlpSignal signal)
    {
        var result = await HandleAsync(context, caller, ingest, signal);
        metrics.RequestCompleted("grpc", result.Code.ToString());
        return result;
    }

    private static async Task<GrpcResult> HandleAsync(HttpContext context, CallerIdentity caller, IngestService ingest, OtlpSignal signal)
    {
        var request = context.Request;
        if (!HttpProtocol.IsHttp2(request.Protocol))
        {
            return GrpcResult.NotGrpc(StatusCodes.Status426UpgradeRequired, $"gRPC needs HTTP/2; this request is {request.Protocol}");
        }

        if (!IsGrpcRequest(request) || request.ContentType!.StartsWith("application/grpc+json", StringComparison.OrdinalIgnoreCase))
        {
            return GrpcResult.NotGrpc(StatusCodes.Status415UnsupportedMediaType, $"Content-Type '{request.ContentType}' is not supported: send application/grpc (protobuf)");
        }

        var requested = request.Query[IngestProject.ParameterName].ToString();
        if (requested.Length == 0)
        {
            requested = request.Headers[IngestProject.ParameterName].ToString();
        }

        var project = IngestProject.Resolve(caller, requested);
        if (!project.Resolved)
        {
            return GrpcResult.Error(OtlpError.CodeFor(project.StatusCode), project.Error!);
        }

        var maxBytes = ingest.Options.MaxRequestBytes;
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = RequestBodyReader.KestrelLimit(maxBytes);
        }

        PooledBody message;
        try
        {
            message = await ReadMessageAsync(request, maxBytes, context.RequestAborted);
        }
        catch (GrpcRequestException ex)
        {
            return GrpcResult.Error(ex.Code, ex.Message);
        }
        catch (RequestBodyException ex)
        {
            return GrpcResult.Error(OtlpError.CodeFor(ex.StatusCode), ex.Message);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return GrpcResult.Error(GrpcStatusCode.ResourceExhausted, $"the request is over the limit of {RequestBodyReader.Describe(maxBytes)}; send fewer spans or log records per request");
        }

        using (message)
        {
            var result = await ingest.IngestAsync(new IngestRequest(message.Memory, OtlpEncoding.Protobuf, project.ProjectId, "grpc", signal, caller.OrganizationId, caller.ContentPolicyFor(project.ProjectId)), context.RequestAborted);
            return result.Status switch
            {
                IngestStatus.Accepted => GrpcResult.Ok(signal, result),
                IngestStatus.Invalid => GrpcResult.Error(GrpcStatusCode.InvalidArgument, result.Message),
                IngestStatus.TooLarge => GrpcResult.Error(GrpcStatusCode.ResourceExhausted, result.Message),
                _ => GrpcResult.Error(GrpcStatusCode.Unavailable, result.Message, result.RetryAfter),
            };
        }
    }

    /// <summary>Reads the call's single message: a 1-byte compressed flag, a 4-byte big-endian length, the bytes.</summary>
    private static async Task<PooledBody> ReadMessageAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        var reader = request.BodyReader;
        var header = await reader.ReadAtLeastAsync(FrameHeaderBytes, cancellationToken);
        if (header.Buffer.Length < FrameHeaderBytes)
        {
            reader.AdvanceTo(header.Buffer.End);
            throw new GrpcRequestException(GrpcStatusCode.InvalidArgument, "the call carries no request message: send one export request");
        }

        Span<byte> prefix = stackalloc byte[FrameHeaderBytes];
        header.Buffer.Slice(0, FrameHeaderBytes).CopyTo(prefix);
        reader.AdvanceTo(header.Buffer.GetPosition(FrameHeaderBytes));
        var compressed = prefix[0];
        var length = BinaryPrimitives.ReadUInt32BigEndian(prefix[1..]);
        if (compressed > 1)
        {
            throw new GrpcRequestException(GrpcStatusCode.Internal, $"invalid message frame (compressed flag {compressed})");
        }

        if (length > RequestBodyReader.WireLimit(maxBytes))
        {
            throw new GrpcRequestException(GrpcStatusCode.ResourceExhausted, $"the request message of {length} bytes is over the limit of {RequestBodyReader.Describe(maxBytes)}; send fewer spans or log records per request");
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Max(length, 1));
        var body = new PooledBody(buffer, (int)length);
        try
        {
            await ReadExactlyAsync(reader, buffer.AsMemory(0, (int)length), cancellationToken);
            await ExpectEndAsync(reader, cancellationToken);
            if (compressed == 0)
            {
                if (length > maxBytes)
                {
                    throw new GrpcRequestException(GrpcStatusCode.ResourceExhausted, $"the request message of {length} bytes is over the limit of {RequestBodyReader.Describe(maxBytes)}; send fewer spans or log records per request");
                }

                return body;
            }

            var encoding = request.Headers["grpc-encoding"].ToString();
            if (encoding.Length == 0 || encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
            {
                throw new GrpcRequestException(GrpcStatusCode.Internal, "the message is flagged compressed but grpc-encoding names no compression");
            }

            if (!encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase))
            {
                throw new GrpcRequestException(GrpcStatusCode.Unimplemented, $"grpc-encoding '{encoding}' is not supported: use gzip or identity");
            }

            using (body)
            {
                return await RequestBodyReader.InflateGzipAsync(body.Memory, maxBytes, cancellationToken);
            }
        }
        catch
        {
            body.Dispose();
            throw;
        }
    }

    private static async Task ReadExactlyAsync(PipeReader reader, Memory<byte> destination, CancellationToken cancellationToken)
    {
        while (destination.Length > 0)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var available = result.Buffer;
            var take = (int)Math.Min(available.Length, destination.Length);
            available.Slice(0, take).CopyTo(destination.Span);
            destination = destination[take..];
            reader.AdvanceTo(available.GetPosition(take));
            if (destination.Length > 0 && result.IsCompleted)
            {
                throw new GrpcRequestException(GrpcStatusCode.InvalidArgument, "the request message ends before its declared length");
            }
        }
    }

    private static async Task ExpectEndAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        var result = await reader.ReadAsync(cancellationToken);
        var extra = result.Buffer.Length;
        reader.AdvanceTo(result.Buffer.End);
        if (extra > 0)
        {
            throw new GrpcRequestException(GrpcStatusCode.InvalidArgument, "Export is unary: the call carries more than one message");
        }
    }

    private sealed class GrpcRequestException(GrpcStatusCode code, string message) : Exception(message)
    {
        public GrpcStatusCode Code { get; } = code;
    }
}
