using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Ingest;

/// <summary>The project an export writes to, or why there is none (the HTTP status and a message).</summary>
public readonly record struct ProjectResolution(Guid ProjectId, int StatusCode, string? Error)
{
    public bool Resolved => Error is null;
}

/// <summary>
/// Which project an export writes to, from the identity the gateway asserts: an API key writes to its
/// own project; a session (owner or member) names one of its projects with <c>project_id</c>. A project
/// the caller cannot reach is answered as not found, never distinguished from one that does not exist.
/// </summary>
public static class IngestProject
{
    /// <summary>The query parameter (and, for gRPC, the metadata key) that names the project.</summary>
    public const string ParameterName = "project_id";

    /// <summary>Who may export: any API key, and sessions with one of these roles.</summary>
    public static readonly IReadOnlyList<string> SessionRoles = [Roles.Owner, Roles.Member];

    public static bool MayExport(CallerIdentity caller)
        => caller.Kind == CallerKind.ApiKey || (caller.Role is { } role && SessionRoles.Contains(role));

    public static ProjectResolution Resolve(CallerIdentity caller, string? requested)
    {
        Guid? named = null;
        if (!string.IsNullOrEmpty(requested))
        {
            if (!Guid.TryParse(requested, out var parsed))
            {
                return Fail(StatusCodes.Status400BadRequest, $"{ParameterName} '{Truncate(requested)}' is not a project id (a UUID)");
            }

            named = parsed;
        }

        if (caller.Kind == CallerKind.ApiKey)
        {
            if (caller.ProjectIds.Count != 1)
            {
                return Fail(StatusCodes.Status403Forbidden, "this API key is not scoped to exactly one project");
            }

            var own = caller.ProjectIds[0];
            return named is { } other && other != own
                ? Fail(StatusCodes.Status404NotFound, $"project {other} not found: an API key writes only to its own project; drop {ParameterName} or use that project's key")
                : new ProjectResolution(own, StatusCodes.Status200OK, null);
        }

        if (named is not { } project)
        {
            return Fail(StatusCodes.Status400BadRequest, $"a session must name the project to write to: add ?{ParameterName}=<project uuid>");
        }

        return caller.CanAccess(project)
            ? new ProjectResolution(project, StatusCodes.Status200OK, null)
            : Fail(StatusCodes.Status404NotFound, $"project {project} not found");
    }

    private static ProjectResolution Fail(int status, string message) => new(Guid.Empty, status, message);

    private static string Truncate(string value) => value.Length > 64 ? value[..64] + "..." : value;
}
