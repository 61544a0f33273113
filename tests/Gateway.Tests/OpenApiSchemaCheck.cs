using System.Text.Json;

namespace Trulayer.Gateway.Tests;

/// <summary>
/// Checks a JSON value against an OpenAPI 3.1 schema, for the keywords the documents use: $ref, type
/// (one or several), properties, required, items, additionalProperties, enum, oneOf/anyOf/allOf.
/// </summary>
internal static class SchemaCheck
{
    public static void Validate(JsonElement document, JsonElement schema, JsonElement value, string at, List<string> problems)
    {
        schema = OpenApiContractTests.Resolve(document, schema);
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (schema.TryGetProperty("allOf", out var all))
        {
            foreach (var part in all.EnumerateArray())
            {
                Validate(document, part, value, at, problems);
            }
        }

        foreach (var keyword in new[] { "oneOf", "anyOf" })
        {
            if (schema.TryGetProperty(keyword, out var options)
                && !options.EnumerateArray().Any(option => Passes(document, option, value, at)))
            {
                problems.Add($"{at}: matches none of {keyword}");
            }
        }

        if (schema.TryGetProperty("type", out var type) && !HasType(type, value))
        {
            problems.Add($"{at}: {value.ValueKind} where the schema says {type}");
            return;
        }

        if (schema.TryGetProperty("enum", out var allowed) && !allowed.EnumerateArray().Any(a => JsonElement.DeepEquals(a, value)))
        {
            problems.Add($"{at}: {value} is not one of {allowed}");
        }

        if (value.ValueKind == JsonValueKind.Object)
        {
            if (schema.TryGetProperty("required", out var required))
            {
                foreach (var name in required.EnumerateArray().Select(r => r.GetString()!))
                {
                    if (!value.TryGetProperty(name, out _))
                    {
                        problems.Add($"{at}: lacks the required '{name}'");
                    }
                }
            }

            schema.TryGetProperty("properties", out var properties);
            foreach (var property in value.EnumerateObject())
            {
                if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(property.Name, out var propertySchema))
                {
                    Validate(document, propertySchema, property.Value, $"{at}.{property.Name}", problems);
                }
                else if (schema.TryGetProperty("additionalProperties", out var additional))
                {
                    if (additional.ValueKind == JsonValueKind.False)
                    {
                        problems.Add($"{at}: '{property.Name}' is not in the schema");
                    }
                    else if (additional.ValueKind == JsonValueKind.Object)
                    {
                        Validate(document, additional, property.Value, $"{at}.{property.Name}", problems);
                    }
                }
            }
        }
        else if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out var items))
        {
            var index = 0;
            foreach (var item in value.EnumerateArray())
            {
                Validate(document, items, item, $"{at}[{index++}]", problems);
            }
        }
    }

    private static bool Passes(JsonElement document, JsonElement schema, JsonElement value, string at)
    {
        var problems = new List<string>();
        Validate(document, schema, value, at, problems);
        return problems.Count == 0;
    }

    private static bool HasType(JsonElement type, JsonElement value) => type.ValueKind == JsonValueKind.Array
        ? type.EnumerateArray().Any(t => Is(t.GetString()!, value))
        : Is(type.GetString()!, value);

    private static bool Is(string type, JsonElement value) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
        "number" => value.ValueKind == JsonValueKind.Number,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => true,
    };
}
