using Microsoft.Extensions.Options;
using Npgsql;
using Trulayer.Auth.ApiKeys;
using Trulayer.ServiceDefaults.Identity;

namespace Trulayer.Auth.DevIssuer;

/// <summary>What the dev issuer seeded: one organization with one project and three people.</summary>
internal sealed record DevSeed(Guid OrganizationId, Guid ProjectId)
{
    public const string OwnerUserId = "dev-owner";
    public const string MemberUserId = "dev-member";
    public const string ViewerUserId = "dev-viewer";

    public static readonly IReadOnlyDictionary<string, string> Users = new Dictionary<string, string>
    {
        [Roles.Owner] = OwnerUserId,
        [Roles.Member] = MemberUserId,
        [Roles.Viewer] = ViewerUserId,
    };
}

/// <summary>
/// Seeds the dev organization, project, owner, member and viewer, and the dev API key, at start and
/// only once: a restart (or a second replica, under a transaction-scoped advisory lock) finds the
/// seed recorded in auth.dev_seed and adds nothing but a new dev key if the configured one changed.
/// </summary>
internal sealed partial class DevSeeder(
    NpgsqlDataSource dataSource,
    ApiKeyStore apiKeys,
    IOptions<AuthOptions> options,
    ILogger<DevSeeder> logger) : IHostedService
{
    private const long SeedLock = 0x7472756c61796572; // "trulayer"

    public DevSeed? Seed { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction))
        {
            lockCommand.Parameters.Add(new() { Value = SeedLock });
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }

        DevSeed? seed = null;
        await using (var find = new NpgsqlCommand("SELECT organization_id, project_id FROM auth.dev_seed", connection, transaction))
        await using (var reader = await find.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                seed = new DevSeed(reader.GetGuid(0), reader.GetGuid(1));
            }
        }

        if (seed is null)
        {
            seed = new DevSeed(Guid.CreateVersion7(), Guid.CreateVersion7());
            await using var insert = new NpgsqlBatch(connection, transaction)
            {
                BatchCommands =
                {
                    Command("INSERT INTO auth.organizations (id, name, created_by) VALUES ($1, 'Dev organization', $2)", seed.OrganizationId, DevSeed.OwnerUserId),
                    Command("INSERT INTO auth.projects (id, organization_id, name) VALUES ($1, $2, 'Dev project')", seed.ProjectId, seed.OrganizationId),
                    Command("INSERT INTO auth.members (organization_id, user_id, role) VALUES ($1, $2, 'owner'), ($1, $3, 'member'), ($1, $4, 'viewer')",
                        seed.OrganizationId, DevSeed.OwnerUserId, DevSeed.MemberUserId, DevSeed.ViewerUserId),
                    Command("INSERT INTO auth.dev_seed (organization_id, project_id) VALUES ($1, $2)", seed.OrganizationId, seed.ProjectId),
                },
            };
            await insert.ExecuteNonQueryAsync(cancellationToken);
            Log.Seeded(logger, seed.OrganizationId, seed.ProjectId);
        }

        await transaction.CommitAsync(cancellationToken);
        await apiKeys.SeedAsync(seed.ProjectId, "dev key", options.Value.DevIssuer.ApiKey, DevSeed.OwnerUserId, cancellationToken);
        Seed = seed;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return command;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1320, Level = LogLevel.Information, Message = "Dev issuer: seeded organization {OrganizationId} with project {ProjectId}, an owner, a member and a viewer")]
        public static partial void Seeded(ILogger logger, Guid organizationId, Guid projectId);
    }
}
