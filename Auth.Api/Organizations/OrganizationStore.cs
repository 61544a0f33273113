using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Trulayer.Auth.Audit;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.Organizations;

public sealed record OrganizationInfo(Guid Id, string Name, string Role, DateTimeOffset CreatedAt);

public sealed record ProjectInfo(Guid Id, string Name, DateTimeOffset CreatedAt);

public sealed record MemberInfo(string UserId, string Role, DateTimeOffset CreatedAt);

/// <summary>
/// A person's role in the organization a session acts in, that organization's projects, and the content
/// policies of those that do not store content as sent.
/// </summary>
internal sealed record Membership(Guid OrganizationId, string Role, IReadOnlyList<Guid> ProjectIds, IReadOnlyDictionary<Guid, ContentPolicy> ContentPolicies);

/// <summary>A project's content policy as the API shows it (README, "Content policy").</summary>
public sealed record ProjectContentPolicy(Guid ProjectId, string Mode, IReadOnlyList<string> Patterns, IReadOnlyList<string> BuiltInPatterns, DateTimeOffset? UpdatedAt, string? UpdatedBy);

internal enum MemberChange
{
    Done,
    NotFound,
    Exists,
    LastOwner,
}

/// <summary>
/// The auth schema's organizations, projects and members. Every query names the organization it is
/// scoped to; every change appends its audit entry in its own transaction (<see cref="AuditLog"/>).
/// </summary>
internal sealed class OrganizationStore(NpgsqlDataSource dataSource, AuditLog auditLog)
{
    /// <summary>
    /// The organization a session acts in: the one <paramref name="preferred"/> names if the user is a
    /// member of it, else the one they joined first. Null when they belong to none.
    /// </summary>
    public async Task<Membership?> FindMembershipAsync(string userId, Guid? preferred, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            SELECT m.organization_id, m.role,
                   coalesce((SELECT array_agg(p.id ORDER BY p.created_at, p.id) FROM auth.projects p WHERE p.organization_id = m.organization_id), '{}'),
                   coalesce((SELECT array_agg(p.id) FROM auth.projects p WHERE p.organization_id = m.organization_id AND p.content_mode <> 'store'), '{}'),
                   coalesce((SELECT array_agg(p.content_mode) FROM auth.projects p WHERE p.organization_id = m.organization_id AND p.content_mode <> 'store'), '{}'),
                   coalesce((SELECT array_agg(array_to_json(p.content_patterns)::text) FROM auth.projects p WHERE p.organization_id = m.organization_id AND p.content_mode <> 'store'), '{}')
            FROM auth.members m
            WHERE m.user_id = $1
            ORDER BY (m.organization_id = $2) DESC NULLS LAST, m.created_at, m.organization_id
            LIMIT 1
            """);
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = (object?)preferred ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var policyProjects = reader.GetFieldValue<Guid[]>(3);
        var modes = reader.GetFieldValue<string[]>(4);
        var patterns = reader.GetFieldValue<string[]>(5);
        var policies = new Dictionary<Guid, ContentPolicy>(policyProjects.Length);
        for (var i = 0; i < policyProjects.Length; i++)
        {
            policies[policyProjects[i]] = new ContentPolicy(ContentPolicy.ParseMode(modes[i]) ?? ContentMode.Store, JsonSerializer.Deserialize<string[]>(patterns[i]) ?? []);
        }

        return new Membership(reader.GetGuid(0), reader.GetString(1), reader.GetFieldValue<Guid[]>(2), policies);
    }

    /// <summary>A project's content policy; null when the organization has no such project.</summary>
    public async Task<ProjectContentPolicy?> GetContentPolicyAsync(Guid organizationId, Guid projectId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT content_mode, content_patterns, content_policy_updated_at, content_policy_updated_by FROM auth.projects WHERE organization_id = $1 AND id = $2");
        command.Parameters.Add(new() { Value = organizationId });
        command.Parameters.Add(new() { Value = projectId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadContentPolicy(reader, projectId) : null;
    }

    /// <summary>Sets a project's content policy, with its audit entry in the same transaction; null when the organization has no such project.</summary>
    public async Task<ProjectContentPolicy?> SetContentPolicyAsync(Guid organizationId, Guid projectId, ContentPolicy policy, string userId, AuditEntry audit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        ProjectContentPolicy stored;
        await using (var command = new NpgsqlCommand(
            """
            UPDATE auth.projects SET content_mode = $3, content_patterns = $4, content_policy_updated_at = now(), content_policy_updated_by = $5
            WHERE organization_id = $1 AND id = $2
            RETURNING content_mode, content_patterns, content_policy_updated_at, content_policy_updated_by
            """,
            connection,
            transaction))
        {
            command.Parameters.Add(new() { Value = organizationId });
            command.Parameters.Add(new() { Value = projectId });
            command.Parameters.Add(new() { Value = ContentPolicy.ModeName(policy.Mode) });
            command.Parameters.Add(new() { Value = policy.Patterns.ToArray() });
            command.Parameters.Add(new() { Value = userId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            stored = ReadContentPolicy(reader, projectId);
        }

        await auditLog.AppendAsync(
            connection, transaction, organizationId,
            audit with { TargetId = projectId.ToString(), ProjectId = projectId, Detail = Detail(new { mode = stored.Mode, patterns = stored.Patterns.Count }) },
            cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return stored;
    }

    private static ProjectContentPolicy ReadContentPolicy(NpgsqlDataReader reader, Guid projectId) => new(
        projectId,
        reader.GetString(0),
        reader.GetFieldValue<string[]>(1),
        reader.GetString(0) == "redact" ? ContentPolicy.BuiltInPatterns : [],
        reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2),
        reader.IsDBNull(3) ? null : reader.GetString(3));

    public async Task<OrganizationInfo> CreateOrganizationAsync(string name, string ownerUserId, AuditEntry audit, CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        DateTimeOffset createdAt;
        await using (var command = new NpgsqlCommand("INSERT INTO auth.organizations (id, name, created_by) VALUES ($1, $2, $3) RETURNING created_at", connection, transaction))
        {
            command.Parameters.Add(new() { Value = id });
            command.Parameters.Add(new() { Value = name });
            command.Parameters.Add(new() { Value = ownerUserId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            createdAt = reader.GetFieldValue<DateTimeOffset>(0);
        }

        await using (var command = new NpgsqlCommand("INSERT INTO auth.members (organization_id, user_id, role) VALUES ($1, $2, 'owner')", connection, transaction))
        {
            command.Parameters.Add(new() { Value = id });
            command.Parameters.Add(new() { Value = ownerUserId });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await auditLog.AppendAsync(connection, transaction, id, audit with { TargetId = id.ToString(), Detail = Detail(new { name }) }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new OrganizationInfo(id, name, ServiceDefaults.Identity.Roles.Owner, createdAt);
    }

    public async Task<IReadOnlyList<OrganizationInfo>> ListOrganizationsAsync(string userId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            SELECT o.id, o.name, m.role, o.created_at FROM auth.members m JOIN auth.organizations o ON o.id = m.organization_id
            WHERE m.user_id = $1 ORDER BY m.created_at, o.id
            """);
        command.Parameters.Add(new() { Value = userId });
        var organizations = new List<OrganizationInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            organizations.Add(new OrganizationInfo(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3)));
        }

        return organizations;
    }

    public async Task<string?> GetOrganizationNameAsync(Guid organizationId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT name FROM auth.organizations WHERE id = $1");
        command.Parameters.Add(new() { Value = organizationId });
        return (string?)await command.ExecuteScalarAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<ProjectInfo>> ListProjectsAsync(Guid organizationId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id, name, created_at FROM auth.projects WHERE organization_id = $1 ORDER BY created_at, id");
        command.Parameters.Add(new() { Value = organizationId });
        var projects = new List<ProjectInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            projects.Add(new ProjectInfo(reader.GetGuid(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2)));
        }

        return projects;
    }

    /// <summary>Creates a project; null when the organization has one of that name already.</summary>
    public async Task<ProjectInfo?> CreateProjectAsync(Guid organizationId, string name, AuditEntry audit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        ProjectInfo project;
        await using (var command = new NpgsqlCommand(
            "INSERT INTO auth.projects (id, organization_id, name) VALUES ($1, $2, $3) ON CONFLICT (organization_id, name) DO NOTHING RETURNING id, name, created_at",
            connection,
            transaction))
        {
            command.Parameters.Add(new() { Value = Guid.CreateVersion7() });
            command.Parameters.Add(new() { Value = organizationId });
            command.Parameters.Add(new() { Value = name });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            project = new ProjectInfo(reader.GetGuid(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2));
        }

        await auditLog.AppendAsync(connection, transaction, organizationId, audit with { TargetId = project.Id.ToString(), ProjectId = project.Id, Detail = Detail(new { name }) }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return project;
    }

    public async Task<IReadOnlyList<MemberInfo>> ListMembersAsync(Guid organizationId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT user_id, role, created_at FROM auth.members WHERE organization_id = $1 ORDER BY created_at, user_id");
        command.Parameters.Add(new() { Value = organizationId });
        var members = new List<MemberInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            members.Add(new MemberInfo(reader.GetString(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2)));
        }

        return members;
    }

    public async Task<(MemberChange Result, MemberInfo? Member)> AddMemberAsync(Guid organizationId, string userId, string role, AuditEntry audit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        MemberInfo member;
        await using (var command = new NpgsqlCommand(
            """
            INSERT INTO auth.members (organization_id, user_id, role) VALUES ($1, $2, $3)
            ON CONFLICT (organization_id, user_id) DO NOTHING
            RETURNING user_id, role, created_at
            """,
            connection,
            transaction))
        {
            command.Parameters.Add(new() { Value = organizationId });
            command.Parameters.Add(new() { Value = userId });
            command.Parameters.Add(new() { Value = role });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return (MemberChange.Exists, null);
            }

            member = new MemberInfo(reader.GetString(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2));
        }

        await auditLog.AppendAsync(connection, transaction, organizationId, audit with { TargetId = userId, Detail = Detail(new { role }) }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (MemberChange.Done, member);
    }

    /// <summary>Changes a member's role (<paramref name="role"/> set) or removes them (null); an organization always keeps an owner.</summary>
    public async Task<(MemberChange Result, MemberInfo? Member)> ChangeMemberAsync(Guid organizationId, string userId, string? role, AuditEntry audit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // Locking the organization serializes concurrent changes, so two owners demoting each other
        // at once cannot leave it without an owner.
        await using (var lockCommand = new NpgsqlCommand("SELECT 1 FROM auth.organizations WHERE id = $1 FOR UPDATE", connection, transaction))
        {
            lockCommand.Parameters.Add(new() { Value = organizationId });
            await lockCommand.ExecuteScalarAsync(cancellationToken);
        }

        string current;
        await using (var find = new NpgsqlCommand("SELECT role FROM auth.members WHERE organization_id = $1 AND user_id = $2", connection, transaction))
        {
            find.Parameters.Add(new() { Value = organizationId });
            find.Parameters.Add(new() { Value = userId });
            if (await find.ExecuteScalarAsync(cancellationToken) is not string found)
            {
                return (MemberChange.NotFound, null);
            }

            current = found;
        }

        if (current == ServiceDefaults.Identity.Roles.Owner && role != ServiceDefaults.Identity.Roles.Owner)
        {
            await using var owners = new NpgsqlCommand("SELECT count(*) FROM auth.members WHERE organization_id = $1 AND role = 'owner'", connection, transaction);
            owners.Parameters.Add(new() { Value = organizationId });
            if ((long)(await owners.ExecuteScalarAsync(cancellationToken))! <= 1)
            {
                return (MemberChange.LastOwner, null);
            }
        }

        MemberInfo? member = null;
        await using (var change = new NpgsqlCommand(
            role is null
                ? "DELETE FROM auth.members WHERE organization_id = $1 AND user_id = $2 RETURNING user_id, role, created_at"
                : "UPDATE auth.members SET role = $3 WHERE organization_id = $1 AND user_id = $2 RETURNING user_id, role, created_at",
            connection,
            transaction))
        {
            change.Parameters.Add(new() { Value = organizationId });
            change.Parameters.Add(new() { Value = userId });
            if (role is not null)
            {
                change.Parameters.Add(new() { Value = role });
            }

            await using var reader = await change.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                member = new MemberInfo(reader.GetString(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2));
            }
        }

        await auditLog.AppendAsync(connection, transaction, organizationId, audit with { TargetId = userId, Detail = Detail(new { role, previousRole = current }) }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (MemberChange.Done, member);
    }

    /// <summary>An audit entry's detail: what the change set, as compact JSON (names and roles, never a secret).</summary>
    internal static string Detail<T>(T values) => JsonSerializer.Serialize(values);
}
