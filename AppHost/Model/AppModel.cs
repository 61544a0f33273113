namespace Trulayer.AppHost.Model;

/// <summary>The resource graph: what runs, what it needs, in which order it starts.</summary>
public sealed class AppModel(IReadOnlyList<Resource> resources)
{
    public IReadOnlyList<Resource> Resources { get; } = resources;

    public IEnumerable<ProjectResource> Projects => Resources.OfType<ProjectResource>();

    public IEnumerable<ParameterResource> Parameters => Resources.OfType<ParameterResource>();

    public Resource this[string name]
        => Resources.FirstOrDefault(r => r.Name == name) ?? throw new KeyNotFoundException($"no resource named '{name}'");

    public T Get<T>(string name) where T : Resource
        => this[name] as T ?? throw new InvalidOperationException($"'{name}' is not a {typeof(T).Name}");

    /// <summary>The resources grouped in start order: each group's members wait only for earlier groups.</summary>
    public IReadOnlyList<IReadOnlyList<Resource>> StartOrder()
    {
        var runnable = Resources.Where(r => r is not ParameterResource).ToList();
        var levels = new Dictionary<Resource, int>();
        int Level(Resource resource, int depth)
        {
            if (depth > runnable.Count)
            {
                throw new InvalidOperationException($"the resource graph has a cycle through '{resource.Name}'");
            }

            if (!levels.TryGetValue(resource, out var level))
            {
                level = resource.WaitsFor.Count == 0 ? 0 : resource.WaitsFor.Max(w => Level(w, depth + 1)) + 1;
                levels[resource] = level;
            }

            return level;
        }

        return runnable
            .GroupBy(r => Level(r, 0))
            .OrderBy(g => g.Key)
            .Select(g => (IReadOnlyList<Resource>)[.. g])
            .ToList();
    }
}

/// <summary>Builds an <see cref="AppModel"/>, in the shape of Aspire's IDistributedApplicationBuilder.</summary>
public sealed class AppModelBuilder
{
    private readonly List<Resource> _resources = [];

    public ParameterResource AddParameter(string name, bool secret, Func<string> generate) => Add(new ParameterResource(name, secret, generate));

    public PostgresResource AddPostgres(string name, ParameterResource password) => Add(new PostgresResource(name, password));

    public KafkaResource AddKafka(string name) => Add(new KafkaResource(name));

    public ProjectResource AddProject(string name, string projectName)
    {
        var project = Add(new ProjectResource(name, projectName));
        project.Environment["OTEL_SERVICE_NAME"] = new LiteralValue(name);
        return project;
    }

    public AppModel Build() => new(_resources.ToList());

    private T Add<T>(T resource) where T : Resource
    {
        if (_resources.Any(r => r.Name == resource.Name))
        {
            throw new InvalidOperationException($"a resource named '{resource.Name}' exists already");
        }

        _resources.Add(resource);
        return resource;
    }
}

/// <summary>The Aspire-convention wiring between resources.</summary>
public static class ResourceBuilderExtensions
{
    public static ProjectResource WithHttpEndpoint(this ProjectResource project, string name = "http", int? port = null, bool isExternal = false)
        => project.WithEndpoint(new Endpoint(name, port, Http2Only: false, isExternal));

    /// <summary>A cleartext HTTP/2 endpoint, for OTLP/gRPC.</summary>
    public static ProjectResource WithHttp2Endpoint(this ProjectResource project, string name, int? port = null, bool isExternal = false)
        => project.WithEndpoint(new Endpoint(name, port, Http2Only: true, isExternal));

    public static ProjectResource WithEnvironment(this ProjectResource project, string name, string value)
        => project.WithEnvironment(name, new LiteralValue(value));

    public static ProjectResource WithEnvironment(this ProjectResource project, string name, ParameterResource parameter)
        => project.WithEnvironment(name, new ParameterValue(parameter));

    public static ProjectResource WithEnvironment(this ProjectResource project, string name, EnvValue value)
    {
        project.Environment[name] = value;
        return project;
    }

    /// <summary>A setting for local runs only (<see cref="ProjectResource.LocalEnvironment"/>).</summary>
    public static ProjectResource WithLocalEnvironment(this ProjectResource project, string name, string value)
    {
        project.LocalEnvironment[name] = value;
        return project;
    }

    /// <summary>ConnectionStrings__&lt;name&gt;, as Aspire passes a database or broker reference.</summary>
    public static ProjectResource WithReference(this ProjectResource project, IResourceWithConnectionString resource)
        => project.WithEnvironment($"ConnectionStrings__{resource.ConnectionName}", new ConnectionStringValue(resource));

    /// <summary>services__&lt;name&gt;__&lt;endpoint&gt;__0 for each endpoint, as Aspire's service discovery passes them.</summary>
    public static ProjectResource WithReference(this ProjectResource project, ProjectResource other)
    {
        foreach (var endpoint in other.Endpoints)
        {
            project.WithEnvironment($"services__{other.Name}__{endpoint.Name}__0", new EndpointUrlValue(other, endpoint.Name));
        }

        return project;
    }

    public static T WaitFor<T>(this T resource, params Resource[] others) where T : Resource
    {
        resource.WaitsFor.AddRange(others);
        return resource;
    }

    public static KafkaResource WithTopic(this KafkaResource kafka, string name, int partitions, long? retentionBytes = null)
    {
        kafka.Topics.Add(new KafkaTopic(name, partitions, retentionBytes));
        return kafka;
    }

    private static ProjectResource WithEndpoint(this ProjectResource project, Endpoint endpoint)
    {
        project.Endpoints.Add(endpoint);
        var prefix = $"Kestrel__Endpoints__{endpoint.Name}";
        project.WithEnvironment($"{prefix}__Url", new EndpointBindingValue(project, endpoint.Name));
        if (endpoint.Http2Only)
        {
            project.WithEnvironment($"{prefix}__Protocols", "Http2");
        }

        return project;
    }
}
