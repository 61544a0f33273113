using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.EventEmitters;

namespace Trulayer.AppHost.Publish;

/// <summary>
/// Builds YAML documents from ordered maps so the same graph always gives the same bytes: keys keep the
/// order they were added in, nothing depends on time or hashing.
/// </summary>
internal static class Yaml
{
    // Strings that would read as another type are quoted for both readers on the way to the API server:
    // kustomize (YAML 1.2, WithQuotingNecessaryStrings) and kubectl (YAML 1.1, PlainScalar).
    private static readonly ISerializer Serializer = new SerializerBuilder()
        .WithQuotingNecessaryStrings()
        .WithEventEmitter(next => new QuoteWhatKubectlWouldRetype(next))
        .WithTypeConverter(new ExplicitNullConverter())
        .DisableAliases()
        .Build();

    /// <summary>A value written as <c>null</c> (a C# null in <see cref="Map"/> leaves the key out).</summary>
    public static readonly object Null = new ExplicitNull();

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

    private sealed class ExplicitNull;

    private sealed class ExplicitNullConverter : IYamlTypeConverter
    {
        public bool Accepts(Type type) => type == typeof(ExplicitNull);

        public object ReadYaml(IParser parser, Type type, ObjectDeserializer rootDeserializer) => throw new NotSupportedException();

        public void WriteYaml(IEmitter emitter, object? value, Type type, ObjectSerializer serializer)
            => emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, "null", ScalarStyle.Plain, isPlainImplicit: true, isQuotedImplicit: false));
    }

    private sealed class QuoteWhatKubectlWouldRetype(IEventEmitter next) : ChainedEventEmitter(next)
    {
        public override void Emit(ScalarEventInfo eventInfo, IEmitter emitter)
        {
            if (eventInfo.Source.Value is string text && eventInfo.Style is ScalarStyle.Any or ScalarStyle.Plain
                && PlainScalar.Resolve(text).Kind != PlainScalarKind.String)
            {
                eventInfo.Style = ScalarStyle.DoubleQuoted;
            }

            base.Emit(eventInfo, emitter);
        }
    }
}
