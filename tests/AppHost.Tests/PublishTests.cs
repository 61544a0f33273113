using Trulayer.AppHost.Model;
using Trulayer.AppHost.Publish;
using YamlDotNet.RepresentationModel;

namespace Trulayer.AppHost.Tests;

/// <summary>Generates the Kubernetes manifests into a temporary folder and checks them as a cluster would.</summary>
public sealed class PublishTests : IDisposable
{
    private readonly string _output = TestDirectories.Create("publish");

    public void Dispose() => TestDirectories.TryDelete(_output);

    private static AppModel Model() => TrulayerModel.Build(StackSettings.Published);

    private List<(string File, YamlMappingNode Node)> Publish(AppModel? model = null, PublishOptions? options = null)
    {
        options ??= new PublishOptions { OutputDirectory = _output };
        new KubernetesPublisher(model ?? Model(), options).Publish();
        var objects = new List<(string, YamlMappingNode)>();
        foreach (var file in Directory.GetFiles(options.OutputDirectory, "*.yaml").Order())
        {
            var stream = new YamlStream();
            using var reader = new StreamReader(file);
            stream.Load(reader);
            objects.AddRange(stream.Documents.Select(d => (Path.GetFileName(file), (YamlMappingNode)d.RootNode)));
        }

        return objects;
    }

    private static string? Scalar(YamlNode node, params string[] path)
    {
        foreach (var key in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var child))
            {
                return null;
            }

            node = child;
        }

        return (node as YamlScalarNode)?.Value;
    }

    private static YamlNode? Node(YamlNode node, params string[] path)
    {
        foreach (var key in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var child))
            {
                return null;
            }

            node = child;
        }

        return node;
    }

    private static IEnumerable<YamlMappingNode> Items(YamlNode? node) => (node as YamlSequenceNode)?.Children.Cast<YamlMappingNode>() ?? [];

    private static Dictionary<string, string> Map(YamlNode? node)
        => (node as YamlMappingNode)?.Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => ((YamlScalarNode)c.Value).Value!) ?? [];

    private static IEnumerable<(string File, YamlMappingNode Workload)> Workloads(List<(string File, YamlMappingNode Node)> objects)
        => objects.Where(o => Scalar(o.Node, "kind") is "Deployment" or "StatefulSet");

    private static YamlMappingNode Container(YamlMappingNode workload) => Items(Node(workload, "spec", "template", "spec", "containers")).Single();

    [Fact]
    public void Publish_EveryObjectHasApiVersionKindNameAndLabels()
    {
        var objects = Publish();

        Assert.NotEmpty(objects);
        Assert.All(objects, o =>
        {
            Assert.False(string.IsNullOrEmpty(Scalar(o.Node, "apiVersion")), o.File);
            Assert.False(string.IsNullOrEmpty(Scalar(o.Node, "kind")), o.File);
            if (Scalar(o.Node, "kind") != "Kustomization")
            {
                Assert.False(string.IsNullOrEmpty(Scalar(o.Node, "metadata", "name")), o.File);
                Assert.Equal("trulayer", Scalar(o.Node, "metadata", "labels", "app.kubernetes.io/part-of"));
            }
        });
        Assert.Equal(
            ["auth", "export", "gateway", "ingest", "kafka", "postgres", "processor"],
            Workloads(objects).Select(w => Scalar(w.Workload, "metadata", "name")).Order());
    }

    [Fact]
    public void SpansTopic_HasExplicitRetention_AndIngestAdmitsUpToHalfOfIt()
    {
        var objects = Publish();
        var job = objects.Single(o => Scalar(o.Node, "kind") == "Job").Node;
        var script = Items(Node(job, "spec", "template", "spec", "containers")).Single()
            .Children[new YamlScalarNode("command")] is YamlSequenceNode command ? ((YamlScalarNode)command.Children[^1]).Value! : "";
        var spansLine = script.Split('\n').Single(l => l.Contains("--topic otlp.spans.v1 ", StringComparison.Ordinal));
        Assert.EndsWith($"--config retention.bytes={StackSettings.PublishedSpansRetentionBytes}", spansLine, StringComparison.Ordinal);

        var ingest = Workloads(objects).Single(w => Scalar(w.Workload, "metadata", "name") == "ingest").Workload;
        var env = Items(Node(Container(ingest), "env")).ToDictionary(e => Scalar(e, "name")!, e => Scalar(e, "value"));
        Assert.Equal((StackSettings.PublishedSpansRetentionBytes / 2).ToString(System.Globalization.CultureInfo.InvariantCulture), env["Ingest__Admission__MaxPartitionBytes"]);
    }

    [Fact]
    public void Probes_PointAtTheHealthPathsOnTheHttpPort()
    {
        var objects = Publish();
        foreach (var project in Model().Projects)
        {
            var container = Container(Workloads(objects).Single(w => Scalar(w.Workload, "metadata", "name") == project.Name).Workload);

            Assert.Equal(Microsoft.Extensions.Hosting.Extensions.HealthEndpointPath, Scalar(container, "readinessProbe", "httpGet", "path"));
            Assert.Equal(Microsoft.Extensions.Hosting.Extensions.AlivenessEndpointPath, Scalar(container, "livenessProbe", "httpGet", "path"));
            Assert.Equal("http", Scalar(container, "readinessProbe", "httpGet", "port"));
            Assert.Equal("http", Scalar(container, "livenessProbe", "httpGet", "port"));
        }
    }

    [Fact]
    public void EveryVariableTheLocalRunPasses_HasASourceInTheCluster()
    {
        var model = Model();
        var objects = Publish(model);
        foreach (var project in model.Projects)
        {
            var container = Container(Workloads(objects).Single(w => Scalar(w.Workload, "metadata", "name") == project.Name).Workload);
            var env = Items(Node(container, "env")).ToDictionary(e => Scalar(e, "name")!);

            Assert.All(project.Environment.Keys, name => Assert.Contains(name, env.Keys));
            Assert.All(env.Values, e => Assert.True(Scalar(e, "value") is not null || Node(e, "valueFrom") is not null, $"{project.Name}: {Scalar(e, "name")} has no source"));
            Assert.All(project.Environment.Where(e => e.Value is ParameterValue or ConnectionStringValue),
                e => Assert.NotNull(Node(env[e.Key], "valueFrom", "secretKeyRef")));
        }
    }

    [Fact]
    public void Containers_RunNonRootOnAReadOnlyFilesystem_WithTheNamedImage()
    {
        var objects = Publish(options: new PublishOptions { OutputDirectory = _output, Registry = "registry.example/acme", Tag = "1.2.3" });
        foreach (var project in Model().Projects)
        {
            var container = Container(Workloads(objects).Single(w => Scalar(w.Workload, "metadata", "name") == project.Name).Workload);

            Assert.Equal($"registry.example/acme/trulayer-{project.Name}:1.2.3", Scalar(container, "image"));
            Assert.Equal("true", Scalar(container, "securityContext", "runAsNonRoot"));
            Assert.Equal("true", Scalar(container, "securityContext", "readOnlyRootFilesystem"));
            Assert.NotNull(Scalar(container, "resources", "limits", "memory"));
            Assert.NotNull(Scalar(container, "resources", "requests", "cpu"));
        }
    }

    [Fact]
    public void Publish_Twice_GivesIdenticalBytes()
    {
        var second = TestDirectories.Create("publish2");
        try
        {
            Publish();
            Publish(options: new PublishOptions { OutputDirectory = second });
            var first = Directory.GetFiles(_output).Order().ToList();

            Assert.Equal(first.Select(Path.GetFileName), Directory.GetFiles(second).Order().Select(Path.GetFileName));
            Assert.All(first, file => Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(second, Path.GetFileName(file)))));
        }
        finally
        {
            TestDirectories.TryDelete(second);
        }
    }

    [Fact]
    public void ChangeInTheGraph_ShowsInTheOutput()
    {
        var model = Model();
        model.Get<ProjectResource>("ingest").WithEnvironment("Ingest__MaxSpansPerRequest", "5000");

        Publish(model);

        Assert.Contains("Ingest__MaxSpansPerRequest", File.ReadAllText(Path.Combine(_output, "ingest.yaml")), StringComparison.Ordinal);
        Assert.DoesNotContain("Ingest__MaxSpansPerRequest", File.ReadAllText(Path.Combine(_output, "export.yaml")), StringComparison.Ordinal);
    }

    [Fact]
    public void Kustomization_ListsEveryOtherFile()
    {
        var objects = Publish();
        var kustomization = objects.Single(o => Scalar(o.Node, "kind") == "Kustomization").Node;
        var listed = ((YamlSequenceNode)Node(kustomization, "resources")!).Children.Select(c => ((YamlScalarNode)c).Value).Order();

        Assert.Equal(Directory.GetFiles(_output, "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml").Order(), listed);
    }

    [Fact]
    public void ExternalServers_NoStatefulSets_ConnectionFromTheSecret()
    {
        var objects = Publish(options: new PublishOptions { OutputDirectory = _output, ExternalPostgres = true, ExternalKafka = true });

        Assert.DoesNotContain(objects, o => Scalar(o.Node, "kind") == "StatefulSet");
        Assert.False(File.Exists(Path.Combine(_output, "postgres.yaml")));
        var secret = Map(Node(objects.Single(o => Scalar(o.Node, "kind") == "Secret").Node, "data"))
            .ToDictionary(k => k.Key, k => System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(k.Value)));
        Assert.Contains("REPLACE-ME", secret["connection-string-trulayer"], StringComparison.Ordinal);
        Assert.Contains("REPLACE-ME", secret["connection-string-kafka"], StringComparison.Ordinal);
    }

    [Fact]
    public void TopicsJob_CreatesEveryTopicWithItsPartitions()
    {
        var objects = Publish();
        var job = objects.Single(o => Scalar(o.Node, "kind") == "Job").Node;
        var script = ((YamlSequenceNode)Node(Container(job), "command")!).Children.Cast<YamlScalarNode>().Last().Value!;

        Assert.All(Model().Get<KafkaResource>("kafka").Topics, topic =>
            Assert.Contains($"--topic {topic.Name} --partitions {topic.Partitions} ", script, StringComparison.Ordinal));
    }

    [Fact]
    public void Gateway_HasAnIngressAndAnOtlpGrpcService()
    {
        var objects = Publish(options: new PublishOptions { OutputDirectory = _output, Host = "traces.example.com" });

        var ingress = objects.Single(o => Scalar(o.Node, "kind") == "Ingress").Node;
        var rule = Items(Node(ingress, "spec", "rules")).Single();
        Assert.Equal("traces.example.com", Scalar(rule, "host"));
        Assert.Equal("gateway", Scalar(Items(Node(rule, "http", "paths")).Single(), "backend", "service", "name"));

        var grpc = objects.Single(o => Scalar(o.Node, "kind") == "Service" && Scalar(o.Node, "metadata", "name") == "gateway-otlp-grpc").Node;
        Assert.Equal("4317", Scalar(Items(Node(grpc, "spec", "ports")).Single(), "port"));
    }

    [Fact]
    public void EveryImage_HasADockerfileThatBuildsItNonRoot()
    {
        var root = typeof(TrulayerModel).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!;
        var model = Model();
        foreach (var project in model.Projects)
        {
            var dockerfile = File.ReadAllText(Path.Combine(root, project.ProjectName, "Dockerfile"));

            Assert.Contains($"trulayer-{project.Name}:", dockerfile, StringComparison.Ordinal);
            Assert.Contains($"ENTRYPOINT [\"dotnet\", \"{project.ProjectName}.dll\"]", dockerfile, StringComparison.Ordinal);
            Assert.Contains("USER $APP_UID", dockerfile, StringComparison.Ordinal);
            Assert.All(project.Endpoints, e => Assert.Contains(KubernetesPublisher.ContainerPort(project, e).ToString(System.Globalization.CultureInfo.InvariantCulture), dockerfile, StringComparison.Ordinal));
            var usesKafka = project.Environment.ContainsKey("ConnectionStrings__kafka");
            Assert.Equal(usesKafka, dockerfile.Contains("librdkafka1", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Publish_NeverEnablesTheDevIssuer()
    {
        var model = Model();
        Publish(model);

        Assert.DoesNotContain("DevIssuer", File.ReadAllText(Path.Combine(_output, "auth.yaml")), StringComparison.Ordinal);
        Assert.Contains("session-issuer", File.ReadAllText(Path.Combine(_output, "secret.yaml")), StringComparison.Ordinal);
    }
}
