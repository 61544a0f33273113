namespace Trulayer.AppHost.Run;

/// <summary>How a local run behaves (as opposed to what it runs, which the model says).</summary>
public sealed record RunOptions
{
    /// <summary>Holds PostgreSQL's data, the generated secrets, logs and dev.json.</summary>
    public required string StateDirectory { get; init; }

    /// <summary>How long each resource may take to answer /health before the run fails.</summary>
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>On shutdown, how long to wait for the processor to store what Kafka holds.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a service may take to exit after SIGTERM before it is killed.</summary>
    public TimeSpan StopGracePeriod { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Restart a service that exits on its own, with backoff.</summary>
    public bool RestartOnCrash { get; init; } = true;

    /// <summary>False for throwaway test stacks (see <see cref="PostgresClusterOptions.Durable"/>).</summary>
    public bool DurablePostgres { get; init; } = true;

    /// <summary>Write each resource's log lines to StateDirectory/logs/&lt;resource&gt;.log too.</summary>
    public bool WriteLogFiles { get; init; } = true;

    /// <summary>The build configuration whose service assemblies to run; defaults to the AppHost's own.</summary>
    public string? Configuration { get; init; }

    /// <summary>How many processes of a service to run (<see cref="ReplicaCounts"/>); one of each service not named.</summary>
    public IReadOnlyDictionary<string, int> Replicas { get; init; } = new Dictionary<string, int>();
}
