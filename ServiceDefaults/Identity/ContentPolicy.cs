using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Trulayer.ServiceDefaults.Identity;

/// <summary>What a project keeps of prompt and completion content (README, "Content policy").</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ContentMode>))]
public enum ContentMode
{
    /// <summary>Content is stored as sent (the default).</summary>
    [JsonStringEnumMemberName("store")]
    Store,

    /// <summary>Content is removed at ingest: it never reaches Kafka or the database.</summary>
    [JsonStringEnumMemberName("drop")]
    Drop,

    /// <summary>E-mail addresses, API-key-like strings and the owner's patterns are replaced at ingest.</summary>
    [JsonStringEnumMemberName("redact")]
    Redact,
}

/// <summary>
/// A project's content policy: its <paramref name="Mode"/> and, for <see cref="ContentMode.Redact"/>, the
/// owner's own <paramref name="Patterns"/> (regular expressions, matched without backtracking) applied
/// after the built-in ones. Auth.Api keeps it with the project; the gateway carries it to ingest in the
/// identity assertion, which applies it before anything is produced.
/// </summary>
public sealed record ContentPolicy(
    [property: JsonPropertyName("mode")] ContentMode Mode,
    [property: JsonPropertyName("patterns")] IReadOnlyList<string> Patterns)
{
    public const int MaxPatterns = 20;
    public const int MaxPatternLength = 200;

    /// <summary>What replaces each redacted match.</summary>
    public const string Redacted = "[REDACTED]";

    /// <summary>
    /// The built-in patterns of <see cref="ContentMode.Redact"/>: e-mail addresses, then strings shaped like
    /// the API keys and tokens of common providers (OpenAI/Anthropic/Stripe-style <c>sk-</c>, <c>pk_</c>,
    /// Trulayer's <c>tl_</c>, AWS access key ids, GitHub and Slack tokens, Google API keys, bearer tokens).
    /// </summary>
    public static readonly IReadOnlyList<string> BuiltInPatterns =
    [
        @"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}",
        @"\b(?:sk|pk|rk|tl)[-_][A-Za-z0-9_\-]{16,}",
        @"\bAKIA[0-9A-Z]{16}\b",
        @"\bgh[pousr]_[A-Za-z0-9]{30,}",
        @"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
        @"\bAIza[0-9A-Za-z_\-]{35}",
        @"(?i:bearer)\s+[A-Za-z0-9._~+/\-]{16,}=*",
    ];

    public static readonly ContentPolicy Store = new(ContentMode.Store, []);

    /// <summary>Compiles a pattern as every policy does: linear time (no backtracking), culture-invariant.</summary>
    public static Regex Compile(string pattern)
        => new(pattern, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    /// <summary>Why <paramref name="patterns"/> cannot be a policy's patterns (naming the one at fault), or null.</summary>
    public static string? PatternsError(IReadOnlyList<string?>? patterns, ContentMode mode)
    {
        if (patterns is null || patterns.Count == 0)
        {
            return null;
        }

        if (mode != ContentMode.Redact)
        {
            return $"patterns apply only to mode 'redact'; mode '{ModeName(mode)}' takes none";
        }

        if (patterns.Count > MaxPatterns)
        {
            return $"patterns has {patterns.Count} entries; at most {MaxPatterns}";
        }

        for (var i = 0; i < patterns.Count; i++)
        {
            var pattern = patterns[i];
            if (string.IsNullOrEmpty(pattern) || pattern.Length > MaxPatternLength)
            {
                return $"patterns[{i}] must be 1 to {MaxPatternLength} characters";
            }

            try
            {
                Compile(pattern);
            }
            catch (ArgumentException ex)
            {
                // NotSupportedException is an ArgumentException too: backreferences and lookarounds cannot run without backtracking.
                return $"patterns[{i}] is not a usable regular expression ({ex.Message}); backreferences and lookarounds are not supported";
            }
            catch (NotSupportedException ex)
            {
                return $"patterns[{i}] is not a usable regular expression ({ex.Message}); backreferences and lookarounds are not supported";
            }
        }

        return null;
    }

    public static string ModeName(ContentMode mode) => mode switch
    {
        ContentMode.Store => "store",
        ContentMode.Drop => "drop",
        ContentMode.Redact => "redact",
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    public static ContentMode? ParseMode(string? mode) => mode switch
    {
        "store" => ContentMode.Store,
        "drop" => ContentMode.Drop,
        "redact" => ContentMode.Redact,
        _ => null,
    };
}
