using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Google.Protobuf.Collections;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Logs.V1;
using OpenTelemetry.Proto.Trace.V1;
using Trulayer.Otlp.GenAi;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Ingest.Pipeline;

/// <summary>
/// Applies a project's content policy to a scanned request before its records are composed, so content
/// the project does not keep never reaches Kafka, and so never the database in any column (README,
/// "Content policy"). Content is what the GenAI mapping reads as prompt, completion or system
/// instructions (<see cref="GenAiPrecedence.IsContent"/>: span and span-event attributes, log-record
/// attributes) and the body of a GenAI log event (event name <c>gen_ai.*</c>). Drop removes it; redact
/// replaces e-mail addresses, API-key-like strings and the owner's patterns in its text with
/// <see cref="ContentPolicy.Redacted"/>. An item that carried content is marked with the attribute
/// <see cref="MarkAttribute"/> (<c>drop</c> or <c>redact</c>), so what is read back says what was done.
/// </summary>
/// <remarks>
/// The slow path (each item decoded and encoded again), taken only for projects whose policy is not
/// <see cref="ContentMode.Store"/>; items without content keep their bytes as received.
/// </remarks>
public sealed class ContentPolicyFilter
{
    /// <summary>The attribute that marks an item whose content a policy removed or redacted.</summary>
    public const string MarkAttribute = "trulayer.content.policy";

    private const int MaxCachedPolicies = 1024;

    private static readonly Regex[] BuiltIn = [.. ContentPolicy.BuiltInPatterns.Select(ContentPolicy.Compile)];

    private readonly ConcurrentDictionary<string, Regex[]> _compiled = new(StringComparer.Ordinal);

    public void Apply(ScannedExport scan, ContentPolicy policy, OtlpSignal signal)
    {
        if (policy.Mode == ContentMode.Store)
        {
            return;
        }

        var filter = new ItemFilter(policy.Mode, policy.Mode == ContentMode.Redact ? Redactors(policy) : []);
        var payload = scan.Payload.Span;
        foreach (ref var entry in scan.RewritableSpans)
        {
            var bytes = entry.Rewritten is { } rewritten ? rewritten : payload.Slice(entry.Start, entry.Length);
            if ((signal == OtlpSignal.Logs ? filter.LogRecord(bytes) : filter.Span(bytes)) is { } filtered)
            {
                entry.Rewritten = filtered;
            }
        }
    }

    /// <summary>The built-in patterns, then the owner's, compiled once per distinct list.</summary>
    private Regex[] Redactors(ContentPolicy policy)
    {
        if (policy.Patterns.Count == 0)
        {
            return BuiltIn;
        }

        var key = string.Join('\n', policy.Patterns);
        if (_compiled.TryGetValue(key, out var regexes))
        {
            return regexes;
        }

        if (_compiled.Count >= MaxCachedPolicies)
        {
            _compiled.Clear();
        }

        // The patterns were checked when the owner set them (Auth.Api); one that still fails here is skipped
        // rather than let through unredacted content of the built-in kinds.
        regexes = [.. BuiltIn, .. policy.Patterns.Select(TryCompile).OfType<Regex>()];
        _compiled[key] = regexes;
        return regexes;
    }

    private static Regex? TryCompile(string pattern)
    {
        try
        {
            return ContentPolicy.Compile(pattern);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
        {
            return null;
        }
    }

    private readonly struct ItemFilter(ContentMode mode, Regex[] redactors)
    {
        /// <summary>The span with its content dropped or redacted, or null when it carries none.</summary>
        public byte[]? Span(ReadOnlySpan<byte> bytes)
        {
            var span = OpenTelemetry.Proto.Trace.V1.Span.Parser.ParseFrom(bytes);
            var found = Attributes(span.Attributes);
            foreach (var e in span.Events)
            {
                found |= Attributes(e.Attributes);
            }

            if (!found)
            {
                return null;
            }

            Mark(span.Attributes);
            return span.ToByteArray();
        }

        /// <summary>The log record with its content dropped or redacted, or null when it carries none.</summary>
        public byte[]? LogRecord(ReadOnlySpan<byte> bytes)
        {
            var record = OpenTelemetry.Proto.Logs.V1.LogRecord.Parser.ParseFrom(bytes);
            var found = Attributes(record.Attributes);
            if (IsGenAiEvent(record) && record.Body is { } body)
            {
                found = true;
                if (mode == ContentMode.Drop)
                {
                    record.Body = null;
                }
                else
                {
                    Redact(body);
                }
            }

            if (!found)
            {
                return null;
            }

            Mark(record.Attributes);
            return record.ToByteArray();
        }

        private static bool IsGenAiEvent(LogRecord record)
            => GenAiEventContent.EventName(record)?.StartsWith("gen_ai.", StringComparison.Ordinal) == true;

        /// <summary>Drops or redacts the content attributes of a list; whether it had any.</summary>
        private bool Attributes(RepeatedField<KeyValue> attributes)
        {
            var found = false;
            for (var i = attributes.Count - 1; i >= 0; i--)
            {
                if (!GenAiPrecedence.IsContent(attributes[i].Key))
                {
                    continue;
                }

                found = true;
                if (mode == ContentMode.Drop)
                {
                    attributes.RemoveAt(i);
                }
                else if (attributes[i].Value is { } value)
                {
                    Redact(value);
                }
            }

            return found;
        }

        private void Redact(AnyValue value)
        {
            switch (value.ValueCase)
            {
                case AnyValue.ValueOneofCase.StringValue:
                    var text = value.StringValue;
                    foreach (var regex in redactors)
                    {
                        text = regex.Replace(text, ContentPolicy.Redacted);
                    }

                    value.StringValue = text;
                    break;
                case AnyValue.ValueOneofCase.ArrayValue:
                    foreach (var item in value.ArrayValue.Values)
                    {
                        Redact(item);
                    }

                    break;
                case AnyValue.ValueOneofCase.KvlistValue:
                    foreach (var item in value.KvlistValue.Values)
                    {
                        if (item.Value is { } inner)
                        {
                            Redact(inner);
                        }
                    }

                    break;
            }
        }

        private void Mark(RepeatedField<KeyValue> attributes)
        {
            for (var i = attributes.Count - 1; i >= 0; i--)
            {
                if (attributes[i].Key == MarkAttribute)
                {
                    attributes.RemoveAt(i);
                }
            }

            attributes.Add(new KeyValue { Key = MarkAttribute, Value = new AnyValue { StringValue = ContentPolicy.ModeName(mode) } });
        }
    }
}
