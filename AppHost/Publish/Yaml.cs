using YamlDotNet.Serialization;

namespace Trulayer.AppHost.Publish;

/// <summary>
/// Builds YAML documents from ordered maps so the same graph always gives the same bytes: keys keep the
/// order they were added in, nothing depends on time or hashing.
/// </summary>
internal static class Yaml
{
    private static readonly ISerializer Serializer = new SerializerBuilder()
        .WithQuotingNecessaryStrings()
        .DisableAliases()
        .Build();

    /// <summary>A map from key/value pairs, skipping null values.</summary>
    public static OrderedDictionary<string, object> Map(params (string Key, object? Value)[] entries)
    {
        var map = new OrderedDictionary<string, object>(StringComparer.Ordinal);
        foreach (var (key, value) in entries)
        {
            if (value is not null)
            {
                map.Add(key, value);
            }
        }

        return map;
    }

    public static List<object> List(params object[] items) => [.. items];

    /// <summary>Several documents in one file, separated by "---", with an optional header comment.</summary>
    public static string Documents(IEnumerable<object> documents, string? comment = null)
    {
        var writer = new StringWriter { NewLine = "\n" };
        if (comment is not null)
        {
            foreach (var line in comment.Split('\n'))
            {
                writer.WriteLine(line.Length == 0 ? "#" : "# " + line);
            }
        }

        var first = true;
        foreach (var document in documents)
        {
            if (!first)
            {
                writer.WriteLine("---");
            }

            first = false;
            writer.Write(Serializer.Serialize(document).Replace("\r\n", "\n", StringComparison.Ordinal));
        }

        return writer.ToString();
    }
}
