namespace Trulayer.Export.Storage;

/// <summary>Free text as a LIKE / ILIKE pattern's literal part (the q searches of logs and spans).</summary>
internal static class LikePattern
{
    /// <summary>The text with LIKE's escape character and wildcards escaped, so each matches itself.</summary>
    public static string Escape(string text)
        => text.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal);
}
