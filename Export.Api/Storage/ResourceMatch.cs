using NpgsqlTypes;
using Trulayer.Export.Http;

namespace Trulayer.Export.Storage;

/// <summary><c>resource.&lt;key&gt;=&lt;value&gt;</c> filters in SQL: the row's resource is one of its project's resources (telemetry.resources) with every given value.</summary>
internal static class ResourceMatch
{
    /// <summary>
    /// The condition on <paramref name="resourceIdColumn"/> for the project whose placeholder is <paramref name="project"/>. A value
    /// matches as the resource's attributes JSON gives it as text (<c>-&gt;&gt;</c>): a string as it is, a number or
    /// <c>true</c>/<c>false</c> as written.
    /// </summary>
    public static string Condition(SqlParameters parameters, string project, IReadOnlyList<ExactFilter> filters, string resourceIdColumn = "resource_id")
    {
        var checks = string.Join(" AND ", filters.Select(f =>
            $"r.attributes ->> {parameters.Add(f.Key, NpgsqlDbType.Text)} = {parameters.Add(f.Value, NpgsqlDbType.Text)}"));
        return $"{resourceIdColumn} IN (SELECT r.resource_id FROM telemetry.resources r WHERE r.project_id = {project} AND {checks})";
    }
}
