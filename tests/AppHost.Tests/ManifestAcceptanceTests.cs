using System.Text;
using k8s.Models;
using Trulayer.AppHost.Model;
using Trulayer.AppHost.Publish;
using YamlDotNet.RepresentationModel;

namespace Trulayer.AppHost.Tests;

/// <summary>
/// The published manifests as the Kubernetes API and a running cluster take them. Every check first
/// passes on the real output, then is shown to catch a published document broken on purpose.
/// </summary>
public sealed class ManifestAcceptanceTests
{
    private const string NotWritten = "/nonexistent/render-only";

    private static AppModel Model() => TrulayerModel.Build(StackSettings.Published);

    private static SortedDictionary<string, string> Render(PublishOptions? options = null, AppModel? model = null)
        => new KubernetesPublisher(model ?? Model(), options ?? new PublishOptions { OutputDirectory = NotWritten }).Render();

    /// <summary>Every file but kustomization.yaml (kustomize's, not the API server's), parsed strictly.</summary>
    private static (List<PublishedObject> Objects, List<string> Problems) Parse(IDictionary<string, string> files)
    {
        var objects = new List<PublishedObject>();
        var problems = new List<string>();
        foreach (var (file, yaml) in files.Where(f => f.Key != "kustomization.yaml"))
        {
            var (parsed, parseProblems) = KubernetesManifests.Parse(file, yaml);
            objects.AddRange(parsed);
            problems.AddRange(parseProblems);
        }

        return (objects, problems);
    }

    /// <summary>The output with one snippet of one file replaced; the snippet must be there.</summary>
    private static SortedDictionary<string, string> Broken(string file, string snippet, string replacement, bool last = false)
    {
        var files = Render();
        var text = files[file];
        var at = last ? text.LastIndexOf(snippet, StringComparison.Ordinal) : text.IndexOf(snippet, StringComparison.Ordinal);
        Assert.True(at >= 0, $"{file} no longer contains the snippet this test breaks:\n{snippet}");
        files[file] = string.Concat(text.AsSpan(0, at), replacement, text.AsSpan(at + snippet.Length));
        return files;
    }

    private static List<PublishedObject> ParsedWithoutProblems(IDictionary<string, string> files)
    {
        var (objects, problems) = Parse(files);
        Assert.Empty(problems);
        return objects;
    }

    public static TheoryData<string> Variants() => ["default", "external servers", "host and 1.33"];

    private static PublishOptions Options(string variant) => variant switch
    {
        "default" => new PublishOptions { OutputDirectory = NotWritten },
        "external servers" => new PublishOptions { OutputDirectory = NotWritten, ExternalPostgres = true, ExternalKafka = true },
        "host and 1.33" => new PublishOptions { OutputDirectory = NotWritten, Host = "traces.example.com", KubernetesVersion = new Version(1, 33) },
        _ => throw new ArgumentOutOfRangeException(nameof(variant)),
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Published_ParsesStrictly_AndPassesEveryClusterCheck(string variant)
    {
        var files = Render(Options(variant));
        var (objects, problems) = Parse(files);

        Assert.Empty(problems);
        Assert.Equal(files.Keys.Where(f => f != "kustomization.yaml").Order(), objects.Select(o => o.File).Distinct().Order());
        Assert.Empty(KubernetesManifests.SelectorProblems(objects));
        Assert.Empty(KubernetesManifests.ReferenceProblems(objects));
        Assert.Empty(KubernetesManifests.PortProblems(objects));
        Assert.Empty(KubernetesManifests.NameProblems(objects));
        Assert.Empty(AvailabilityProblems(objects));
    }

    [Theory]
    [InlineData("misspelled field", "gateway.yaml", "        imagePullPolicy: IfNotPresent\n", "        imagePullPolicyy: IfNotPresent\n", "imagePullPolicyy")]
    [InlineData("unknown top-level field", "namespace.yaml", "kind: Namespace\n", "kind: Namespace\nspecc: {}\n", "specc")]
    [InlineData("text in an integer field", "ingest.yaml", "  replicas: 2\n", "  replicas: two\n", "'two' was not in a correct format")]
    [InlineData("a map where a list belongs", "auth.yaml", "        volumeMounts:\n        - name: tmp\n          mountPath: /tmp\n", "        volumeMounts:\n          name: tmp\n", "Expected 'SequenceStart', got 'MappingStart'")]
    [InlineData("unknown kind", "secret.yaml", "kind: Secret\n", "kind: Secrets\n", "v1/Secrets")]
    [InlineData("a number in a string field", "processor.yaml", "          value: \"10000\"\n", "          value: 10000\n", "$.spec.template.spec.containers[0].env[")]
    [InlineData("a YAML 1.1 boolean in a string field", "export.yaml", "          value: json\n", "          value: on\n", "$.spec.template.spec.containers[0].env[5].value")]
    [InlineData("duplicate field", "gateway.yaml", "  replicas: 2\n", "  replicas: 2\n  replicas: 3\n", "duplicate key replicas")]
    [InlineData("missing required container name", "auth.yaml", "      - name: auth\n        image:", "      - image:", ".containers[0].name is required")]
    [InlineData("missing required serviceName", "postgres.yaml", "  serviceName: postgres\n", "", ".spec.serviceName is required")]
    [InlineData("missing required port of a probe", "export.yaml", "            path: /alive\n            port: http\n", "            path: /alive\n", ".livenessProbe.httpGet.port is required")]
    public void StrictParse_RefusesABrokenDocument(string breakage, string file, string snippet, string replacement, string expected)
    {
        var (_, problems) = Parse(Broken(file, snippet, replacement));

        var problem = Assert.Single(problems);
        Assert.Contains(file, problem, StringComparison.Ordinal);
        Assert.True(problem.Contains(expected, StringComparison.Ordinal), $"{breakage}: {problem}");
    }

    [Fact]
    public void StringsThatReadAsOtherTypes_ArePublishedQuoted()
    {
        var model = Model();
        string[] values = ["on", "no", "y", "~", "1e3", "010", "0x1F", "1_000", "2024-01-02", ".5", "+.inf", "null", "true"];
        var ingest = model.Get<ProjectResource>("ingest");
        for (var i = 0; i < values.Length; i++)
        {
            ingest.WithEnvironment($"Quoting__{i}", values[i]);
        }

        var objects = ParsedWithoutProblems(Render(model: model));

        var env = objects.Select(o => o.Object).OfType<V1Deployment>().Single(d => d.Metadata.Name == "ingest").Spec.Template.Spec.Containers.Single().Env;
        Assert.Equal(values, env.Where(e => e.Name.StartsWith("Quoting__", StringComparison.Ordinal)).Select(e => e.Value));
    }

    [Theory]
    [InlineData("ingest.yaml", "    metadata:\n      labels:\n        app.kubernetes.io/name: ingest\n", "    metadata:\n      labels:\n        app.kubernetes.io/name: ingest-v2\n", "Deployment ingest: spec.selector does not match the labels of spec.template")]
    [InlineData("kafka.yaml", "    metadata:\n      labels:\n        app.kubernetes.io/name: kafka\n", "    metadata:\n      labels:\n        app.kubernetes.io/name: kafka-v2\n", "StatefulSet kafka: spec.selector does not match the labels of spec.template")]
    [InlineData("export.yaml", "  selector:\n    app.kubernetes.io/name: export\n", "  selector:\n    app.kubernetes.io/name: exports\n", "Service export: spec.selector selects no published pods")]
    public void SelectorCheck_CatchesASelectorThatMissesItsPods(string file, string snippet, string replacement, string expected)
    {
        var objects = ParsedWithoutProblems(Broken(file, snippet, replacement));

        Assert.Contains(expected, KubernetesManifests.SelectorProblems(objects).Select(p => p[(file.Length + 2)..]));
    }

    [Fact]
    public void SelectorCheck_CatchesADisruptionBudgetThatSelectsNothing()
    {
        var objects = ParsedWithoutProblems(Broken("processor.yaml", "      app.kubernetes.io/name: processor\n", "      app.kubernetes.io/name: processer\n", last: true));

        Assert.Equal(["processor.yaml: PodDisruptionBudget processor: spec.selector selects no published pods"], KubernetesManifests.SelectorProblems(objects));
    }

    [Theory]
    [InlineData("secret.yaml", "  export-cursor-key: ", "  export-cursor-keys: ", "export.yaml: Deployment export: container export, env Export__CursorKey: Secret 'trulayer-secrets' has no key 'export-cursor-key'")]
    [InlineData("auth.yaml", "              name: trulayer-secrets\n", "              name: trulayer-secret\n", "auth.yaml: Deployment auth: container auth, env ConnectionStrings__trulayer: Secret 'trulayer-secret' is not published")]
    [InlineData("gateway.yaml", "        env:\n", "        envFrom:\n        - configMapRef:\n            name: trulayer-settings\n        env:\n", "gateway.yaml: Deployment gateway: container gateway, envFrom: ConfigMap 'trulayer-settings' is not published")]
    [InlineData("ingest.yaml", "        - name: HOME\n          value: /tmp\n", "        - name: HOME\n          valueFrom:\n            configMapKeyRef:\n              name: trulayer-settings\n              key: home\n", "ingest.yaml: Deployment ingest: container ingest, env HOME: ConfigMap 'trulayer-settings' is not published")]
    [InlineData("gateway.yaml", "            name: gateway\n            port:\n              name: http\n", "            name: gateway\n            port:\n              name: https\n", "gateway.yaml: Ingress gateway: backend Service 'gateway' has no port https")]
    [InlineData("kafka.yaml", "  serviceName: kafka-headless\n", "  serviceName: kafka-headles\n", "kafka.yaml: StatefulSet kafka: spec.serviceName 'kafka-headles' is not a published Service")]
    public void ReferenceCheck_CatchesAMissingSecretKeyConfigMapOrService(string file, string snippet, string replacement, string expected)
    {
        var objects = ParsedWithoutProblems(Broken(file, snippet, replacement));

        Assert.Contains(expected, KubernetesManifests.ReferenceProblems(objects));
    }

    [Theory]
    [InlineData("auth.yaml", "            path: /health\n            port: http\n", "            path: /health\n            port: htp\n", "container auth, readinessProbe: port htp is not a port of the container")]
    [InlineData("auth.yaml", "            path: /alive\n            port: http\n", "            path: /alive\n            port: 9999\n", "container auth, livenessProbe: port 9999 is not a port of the container")]
    [InlineData("kafka.yaml", "          tcpSocket:\n            port: kafka\n", "          tcpSocket:\n            port: 9094\n", "container kafka, readinessProbe: port 9094 is not a port of the container")]
    [InlineData("export.yaml", "    targetPort: http\n", "    targetPort: web\n", "Service export: port http targets web, which no selected container declares")]
    public void PortCheck_CatchesAProbeOrServiceOnAPortTheContainerLacks(string file, string snippet, string replacement, string expected)
    {
        var objects = ParsedWithoutProblems(Broken(file, snippet, replacement));

        Assert.Contains(KubernetesManifests.PortProblems(objects), p => p.EndsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void PortCheck_AcceptsANumberedProbePortTheContainerDeclares()
    {
        var objects = ParsedWithoutProblems(Broken("auth.yaml", "            path: /alive\n            port: http\n", "            path: /alive\n            port: 8080\n"));

        Assert.Empty(KubernetesManifests.PortProblems(objects));
    }

    [Theory]
    [InlineData("export.yaml", "  name: export\n  labels:", "  name: Export_1\n  labels:", "Deployment Export_1: metadata.name 'Export_1' is not a DNS label")]
    [InlineData("gateway.yaml", "  name: gateway-otlp-grpc\n", "  name: 4317-otlp-grpc\n", "Service 4317-otlp-grpc: metadata.name '4317-otlp-grpc' is not a DNS label")]
    [InlineData("ingest.yaml", "        - name: grpc\n          containerPort: 8081\n", "        - name: grpc-h2c-cleartext\n          containerPort: 8081\n", "container ingest: port name 'grpc-h2c-cleartext' is not an IANA service name")]
    [InlineData("auth.yaml", "      - name: auth\n        image:", "      - name: auth.api\n        image:", "container name 'auth.api' is not a DNS label")]
    public void NameCheck_CatchesNamesTheApiServerRefuses(string file, string snippet, string replacement, string expected)
    {
        var objects = ParsedWithoutProblems(Broken(file, snippet, replacement));

        Assert.Contains(KubernetesManifests.NameProblems(objects), p => p.EndsWith(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Trulayer", "--namespace 'Trulayer'")]
    [InlineData("a-namespace-name-that-is-longer-than-the-sixty-three-characters-of-a-label", "--namespace")]
    public void Publish_RefusesANamespaceThatIsNotADnsLabel(string ns, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => Render(new PublishOptions { OutputDirectory = NotWritten, Namespace = ns }));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void StatelessServices_RunTwoReplicas_EachWithADisruptionBudget()
    {
        var objects = ParsedWithoutProblems(Render());
        var deployments = objects.Select(o => o.Object).OfType<V1Deployment>().ToList();
        var budgets = objects.Select(o => o.Object).OfType<V1PodDisruptionBudget>().ToList();

        Assert.Equal(["auth", "export", "gateway", "ingest", "processor"], deployments.Select(d => d.Metadata.Name).Order());
        Assert.All(deployments, d => Assert.True(d.Spec.Replicas >= 2, $"{d.Metadata.Name} runs {d.Spec.Replicas} replicas"));
        Assert.All(deployments, d =>
        {
            var budget = Assert.Single(budgets, b => KubernetesManifests.Matches(b.Spec.Selector, d.Spec.Template.Metadata.Labels));
            Assert.Equal("policy/v1", budget.ApiVersion);
            Assert.Equal("1", budget.Spec.MaxUnavailable?.Value);
            Assert.Equal("AlwaysAllow", budget.Spec.UnhealthyPodEvictionPolicy);
        });
        Assert.Equal(["auth", "export", "gateway", "ingest", "kafka", "processor"], budgets.Select(b => b.Metadata.Name).Order());
        Assert.Empty(AvailabilityProblems(objects));
    }

    [Fact]
    public void AvailabilityCheck_CatchesASingleReplica()
    {
        var objects = ParsedWithoutProblems(Broken("processor.yaml", "  replicas: 2\n", "  replicas: 1\n"));

        Assert.Contains("processor.yaml: Deployment processor: 1 replica(s); a stateless service runs at least 2", AvailabilityProblems(objects));
    }

    [Fact]
    public void AvailabilityCheck_CatchesAServiceWithoutABudget()
    {
        var objects = ParsedWithoutProblems(Broken("gateway.yaml", "      app.kubernetes.io/name: gateway\n", "      app.kubernetes.io/name: auth\n", last: true));

        Assert.Equal(["gateway.yaml: Deployment gateway: no PodDisruptionBudget selects its pods"], AvailabilityProblems(objects));
    }

    [Fact]
    public void AvailabilityCheck_CatchesABudgetThatLetsEveryReplicaGo()
    {
        var objects = ParsedWithoutProblems(Broken("auth.yaml", "  maxUnavailable: 1\n", "  maxUnavailable: 2\n"));

        Assert.Equal(["auth.yaml: Deployment auth: its PodDisruptionBudget lets 2 of 2 replicas go at once"], AvailabilityProblems(objects));
    }

    [Theory]
    [InlineData(1, 32, true)]
    [InlineData(1, 33, false)]
    [InlineData(1, 35, false)]
    public void VolumeClaimTemplates_CarryWhatTheServerFillsIn_SoAReApplyIsANoOp(int major, int minor, bool nullCreationTimestamp)
    {
        var files = Render(new PublishOptions { OutputDirectory = NotWritten, KubernetesVersion = new Version(major, minor) });
        var objects = ParsedWithoutProblems(files);
        var statefulSets = objects.Where(o => o.Object is V1StatefulSet).ToList();

        Assert.Equal(["kafka", "postgres"], statefulSets.Select(s => s.Name).Order());
        foreach (var statefulSet in statefulSets)
        {
            var template = Assert.Single(((V1StatefulSet)statefulSet.Object).Spec.VolumeClaimTemplates);
            Assert.Equal("v1", template.ApiVersion);
            Assert.Equal("PersistentVolumeClaim", template.Kind);
            Assert.Equal("Filesystem", template.Spec.VolumeMode);
            Assert.Equal("Pending", template.Status?.Phase);

            var document = new YamlStream();
            document.Load(new StringReader(files[statefulSet.File]));
            var metadata = document.Documents
                .Select(d => (YamlMappingNode)d.RootNode)
                .Where(d => d.Children[new YamlScalarNode("kind")].ToString() == "StatefulSet")
                .Select(d => (YamlMappingNode)((YamlMappingNode)((YamlSequenceNode)((YamlMappingNode)d.Children[new YamlScalarNode("spec")]).Children[new YamlScalarNode("volumeClaimTemplates")]).Children[0]).Children[new YamlScalarNode("metadata")])
                .Single();
            Assert.Equal(nullCreationTimestamp, metadata.Children.TryGetValue(new YamlScalarNode("creationTimestamp"), out var timestamp));
            Assert.True(timestamp is null || timestamp is YamlScalarNode { Value: "null" }, $"{statefulSet}: creationTimestamp {timestamp}");
        }
    }

    [Fact]
    public void Secret_IsWrittenAsBase64Data_AsTheServerStoresIt()
    {
        var files = Render();
        var secret = ParsedWithoutProblems(files).Select(o => o.Object).OfType<V1Secret>().Single();

        Assert.Null(secret.StringData);
        Assert.DoesNotContain("stringData", files["secret.yaml"], StringComparison.Ordinal);
        Assert.NotEmpty(secret.Data);
        Assert.Equal("kafka:9092", Encoding.UTF8.GetString(secret.Data["connection-string-kafka"]));
        Assert.All(secret.Data.Where(d => d.Key != "connection-string-kafka"),
            d => Assert.Contains("REPLACE-ME", Encoding.UTF8.GetString(d.Value), StringComparison.Ordinal));
    }

    /// <summary>Each stateless service (a Deployment) runs at least two replicas and has a budget that keeps one up.</summary>
    private static IEnumerable<string> AvailabilityProblems(IReadOnlyList<PublishedObject> objects)
    {
        var budgets = objects.Where(o => o.Object is V1PodDisruptionBudget).Select(o => (V1PodDisruptionBudget)o.Object).ToList();
        foreach (var o in objects.Where(o => o.Object is V1Deployment))
        {
            var deployment = (V1Deployment)o.Object;
            var replicas = deployment.Spec.Replicas ?? 1;
            if (replicas < 2)
            {
                yield return $"{o}: {replicas} replica(s); a stateless service runs at least 2";
            }

            var budget = budgets.FirstOrDefault(b => KubernetesManifests.Matches(b.Spec.Selector, deployment.Spec.Template.Metadata?.Labels));
            if (budget is null)
            {
                yield return $"{o}: no PodDisruptionBudget selects its pods";
                continue;
            }

            var allowed = budget.Spec switch
            {
                { MaxUnavailable.Value: var max } when int.TryParse(max, out var n) => n,
                { MinAvailable.Value: var min } when int.TryParse(min, out var n) => replicas - n,
                _ => replicas,
            };
            if (allowed >= replicas || allowed < 1)
            {
                yield return $"{o}: its PodDisruptionBudget lets {allowed} of {replicas} replicas go at once";
            }
        }
    }
}
