using OpenTelemetry.Proto.Resource.V1;

namespace Trulayer.Otlp.GenAi;

/// <summary>What the processor reads off a span's resource.</summary>
public static class ResourceConventions
{
    public const string ServiceNameAttribute = "service.name";

    /// <summary>The resource's <c>service.name</c> when it is a non-empty string; otherwise null.</summary>
    public static string? ServiceName(Resource? resource)
    {
        if (resource is null)
        {
            return null;
        }

        foreach (var attribute in resource.Attributes)
        {
            if (attribute.Key == ServiceNameAttribute)
            {
                return attribute.Value is { ValueCase: OpenTelemetry.Proto.Common.V1.AnyValue.ValueOneofCase.StringValue, StringValue.Length: > 0 } value
                    ? value.StringValue
                    : null;
            }
        }

        return null;
    }
}
