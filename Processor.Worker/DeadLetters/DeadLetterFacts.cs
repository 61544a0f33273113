using System.Security.Cryptography;
using System.Text;
using Trulayer.Otlp.Protobuf;

namespace Trulayer.Processor.DeadLetters;

/// <summary>
/// What can be read from a dead-lettered record whatever is wrong with it: its project and organization,
/// how many spans or log records it holds, and a hash of its key and value (the same on every redelivery).
/// SpanBatch and LogBatch nest the same way (field 4 resources, 2 scopes, 2 items), so one walk counts
/// both. A value that does not parse that far leaves the fact it would give null.
/// </summary>
internal readonly record struct DeadLetterFacts(Guid? ProjectId, Guid? OrganizationId, int? ItemCount, byte[] RecordHash)
{
    private const int ProjectIdField = 1, ResourcesField = 4, OrganizationIdField = 5, ScopesField = 2, ItemsField = 2;

    public static DeadLetterFacts Read(byte[]? key, byte[]? value)
    {
        var hash = Hash(key, value);
        if (value is null || value.Length == 0)
        {
            return new DeadLetterFacts(null, null, null, hash);
        }

        Guid? project = null, organization = null;
        int? count = 0;
        try
        {
            var reader = new ProtoWireReader(value);
            while (reader.TryReadTag(out var field, out var wireType))
            {
                if (wireType != WireType.LengthDelimited)
                {
                    reader.Skip(wireType);
                    continue;
                }

                var (offset, length) = reader.ReadRange();
                switch (field)
                {
                    case ProjectIdField:
                        project = ParseGuid(value, offset, length);
                        break;
                    case OrganizationIdField:
                        organization = ParseGuid(value, offset, length);
                        break;
                    case ResourcesField when count is not null:
                        count = CountItems(value, offset, length) is { } items ? count + items : null;
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            count = null;
        }

        return new DeadLetterFacts(project, organization, count, hash);
    }

    private static int? CountItems(byte[] value, int offset, int length)
    {
        var count = 0;
        var resource = new ProtoWireReader(value, offset, offset + length);
        while (resource.TryReadTag(out var field, out var wireType))
        {
            if (field != ScopesField || wireType != WireType.LengthDelimited)
            {
                resource.Skip(wireType);
                continue;
            }

            var (scopeOffset, scopeLength) = resource.ReadRange();
            var scope = new ProtoWireReader(value, scopeOffset, scopeOffset + scopeLength);
            while (scope.TryReadTag(out var scopeField, out var scopeWireType))
            {
                if (scopeField == ItemsField && scopeWireType == WireType.LengthDelimited)
                {
                    scope.ReadRange();
                    count++;
                }
                else
                {
                    scope.Skip(scopeWireType);
                }
            }
        }

        return count;
    }

    private static Guid? ParseGuid(byte[] value, int offset, int length)
        => Guid.TryParseExact(Encoding.UTF8.GetString(value, offset, length), "D", out var id) && id != Guid.Empty ? id : null;

    private static byte[] Hash(byte[]? key, byte[]? value)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[4];
        foreach (var part in (ReadOnlySpan<byte[]?>)[key, value])
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, part?.Length ?? -1);
            sha.AppendData(length);
            sha.AppendData(part ?? []);
        }

        return sha.GetHashAndReset();
    }
}
