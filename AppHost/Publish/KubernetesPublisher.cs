using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Trulayer.AppHost.Model;
using static Trulayer.AppHost.Publish.Yaml;

namespace Trulayer.AppHost.Publish;

/// <summary>
/// Turns the resource graph the local run uses into plain Kubernetes YAML with a kustomization.yaml:
/// per service a Deployment and a Service with the same environment the local run passes (connection
/// strings and keys from one Secret), PostgreSQL (TimescaleDB) and Kafka (KRaft) as StatefulSets unless
/// external, the topics as a Job, an Ingress and an OTLP/gRPC Service for the gateway, and a
/// PodDisruptionBudget for each service and for Kafka.
/// Each object is written as the API server returns it (defaults it fills into lists kubectl replaces whole,
/// Secret values as base64 <c>data</c>), so applying the same output again changes nothing.
/// Schema migrations need no Job: each service applies its own schema's migrations at start under a
/// PostgreSQL advisory lock (ServiceDefaults' SchemaMigrator), so replicas never race.
/// </summary>
public sealed class KubernetesPublisher(AppModel model, PublishOptions options)
{
    public const string SecretName = "trulayer-secrets";
    private const string PartOf = "trulayer";
    private const int HttpPort = 8080;
    private const int SecondaryPort = 8081;
    private const int PostgresPort = 5432;
    private const int KafkaPort = 9092;
    private const int KafkaControllerPort = 9093;
    private const int KafkaReplicas = 3;
    private const int NonRootUser = 1654; // the "app" user of Microsoft's .NET images

    /// <summary>The first API server that omits a zero creationTimestamp instead of writing null (kubernetes#130989).</summary>
    private static readonly Version NoNullCreationTimestamp = new(1, 33);

    /// <summary>Writes the manifests and returns the files written, relative to the output folder.</summary>
    public IReadOnlyList<string> Publish()
    {
        var files = Render();
        Directory.CreateDirectory(options.OutputDirectory);
        foreach (var (name, content) in files)
        {
            File.WriteAllText(Path.Combine(options.OutputDirectory, name), content, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        }

        return [.. files.Keys];
    }

    /// <summary>File name to YAML text, in a fixed order.</summary>
    public SortedDictionary<string, string> Render()
    {
        if (options.Problems() is [_, ..] problems)
        {
            throw new ArgumentException(string.Join("; ", problems), nameof(options));
        }

        var files = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["namespace.yaml"] = Documents([Namespace()]),
            ["secret.yaml"] = Documents([Secret()], SecretComment),
        };

        var postgres = model.Resources.OfType<PostgresResource>().Single();
        if (!options.ExternalPostgres)
        {
            files["postgres.yaml"] = Documents(PostgresObjects(postgres));
        }

        var kafka = model.Resources.OfType<KafkaResource>().Single();
        if (!options.ExternalKafka)
        {
            files["kafka.yaml"] = Documents(KafkaObjects(kafka));
        }

        files["kafka-topics.yaml"] = Documents([TopicsJob(kafka)]);
        foreach (var project in model.Projects)
        {
            files[$"{project.Name}.yaml"] = Documents(ProjectObjects(project));
        }

        files["kustomization.yaml"] = Documents([Map(
            ("apiVersion", "kustomize.config.k8s.io/v1beta1"),
            ("kind", "Kustomization"),
            ("namespace", options.Namespace),
            ("resources", files.Keys.Where(k => k != "kustomization.yaml").Cast<object>().ToList()))]);
        return files;
    }

    /// <summary>The container image of a service.</summary>
    public string ImageOf(ProjectResource project) => $"{options.Registry.TrimEnd('/')}/trulayer-{project.Name}:{options.Tag}";

    /// <summary>The port a service's endpoint listens on inside its container.</summary>
    public static int ContainerPort(ProjectResource project, Model.Endpoint endpoint)
        => endpoint.Port is { } fixedPort and not 0 ? fixedPort : endpoint.Name == "http" ? HttpPort : SecondaryPort;

    /// <summary>The Secret key that holds a parameter or a connection string.</summary>
    public static string SecretKey(EnvValue value) => value switch
    {
        ParameterValue parameter => parameter.Parameter.Name,
        ConnectionStringValue connection => $"connection-string-{connection.Resource.ConnectionName}",
        _ => throw new ArgumentException($"{value} does not live in the Secret", nameof(value)),
    };

    private const string SecretComment =
        """
        PLACEHOLDERS. Replace every value before you apply these manifests; none of them is a real secret.
        Values are base64 of the value, as the API server stores them (printf %s 'the value' | base64 -w0).
        identity-assertion-key: base64 of 32 random bytes (openssl rand -base64 32), shared by the gateway and the services.
        postgres-password: the password of the trulayer user; the same value goes into connection-string-trulayer.
        connection-string-trulayer / connection-string-kafka: point them at your own servers when you publish
        with --external-postgres / --external-kafka.
        Prefer creating the Secret out of band (kubectl create secret generic trulayer-secrets --from-literal=...)
        or from your secret manager, and dropping this file from kustomization.yaml.
        """;

    private object Namespace() => Map(
        ("apiVersion", "v1"),
        ("kind", "Namespace"),
        ("metadata", Map(("name", options.Namespace), ("labels", PartOfLabels()))));

    private object Secret()
    {
        var postgres = model.Resources.OfType<PostgresResource>().Single();
        var data = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var parameter in model.Parameters.Where(p => p.Secret))
        {
            data[parameter.Name] = $"REPLACE-ME-{parameter.Name}";
        }

        var postgresHost = options.ExternalPostgres ? "REPLACE-ME-postgres-host" : postgres.Name;
        data[$"connection-string-{postgres.ConnectionName}"] =
            $"Host={postgresHost};Port={PostgresPort};Username={postgres.UserName};Password=REPLACE-ME-{postgres.Password.Name};Database={postgres.DatabaseName}";
        var kafka = model.Resources.OfType<KafkaResource>().Single();
        data[$"connection-string-{kafka.ConnectionName}"] = options.ExternalKafka ? "REPLACE-ME-kafka-bootstrap:9092" : $"{kafka.Name}:{KafkaPort}";

        // data, not stringData: the server turns stringData into data and keeps no stringData, so
        // kubectl would find the field missing and send it again on every apply.
        var encoded = new SortedDictionary<string, object>(StringComparer.Ordinal);
        foreach (var (key, value) in data)
        {
            encoded[key] = Convert.ToBase64String(Encoding.UTF8.GetBytes(value));
        }

        return Map(
            ("apiVersion", "v1"),
            ("kind", "Secret"),
            ("metadata", Map(("name", SecretName), ("labels", PartOfLabels()))),
            ("type", "Opaque"),
            ("data", encoded));
    }

    private IEnumerable<object> ProjectObjects(ProjectResource project)
    {
        var labels = Labels(project.Name);
        var ports = project.Endpoints
            .Select(e => (object)Map(("name", e.Name), ("containerPort", ContainerPort(project, e)), ("protocol", "TCP")))
            .ToList();
        var container = Map(
            ("name", project.Name),
            ("image", ImageOf(project)),
            ("imagePullPolicy", "IfNotPresent"),
            ("ports", ports),
            ("env", Environment(project)),
            ("readinessProbe", Probe(project.HealthPath, periodSeconds: 10)),
            ("livenessProbe", Probe(project.AlivePath, periodSeconds: 20)),
            ("resources", Map(
                ("requests", Map(("cpu", project.Compute.CpuRequest), ("memory", project.Compute.MemoryRequest))),
                ("limits", Map(("cpu", project.Compute.CpuLimit), ("memory", project.Compute.MemoryLimit))))),
            ("securityContext", Map(
                ("runAsNonRoot", true),
                ("runAsUser", NonRootUser),
                ("runAsGroup", NonRootUser),
                ("readOnlyRootFilesystem", true),
                ("allowPrivilegeEscalation", false),
                ("capabilities", Map(("drop", List("ALL")))))),
            ("volumeMounts", List(Map(("name", "tmp"), ("mountPath", "/tmp")))));

        yield return Map(
            ("apiVersion", "apps/v1"),
            ("kind", "Deployment"),
            ("metadata", Map(("name", project.Name), ("labels", labels))),
            ("spec", Map(
                ("replicas", project.Replicas),
                ("selector", Map(("matchLabels", labels))),
                ("template", Map(
                    ("metadata", Map(("labels", labels))),
                    ("spec", Map(
                        ("automountServiceAccountToken", false),
                        ("securityContext", Map(("runAsNonRoot", true), ("seccompProfile", Map(("type", "RuntimeDefault"))))),
                        // The processor drains its current batch on SIGTERM before it exits.
                        ("terminationGracePeriodSeconds", project.DrainBacklogBeforeStop ? 60 : 30),
                        ("containers", List(container)),
                        ("volumes", List(Map(("name", "tmp"), ("emptyDir", Map())))))))))));

        yield return Service(project.Name, labels, project.Endpoints
            .Where(e => !(e.IsExternal && e.Http2Only))
            .Select(e => (e.Name, ContainerPort(project, e))));
        yield return DisruptionBudget(project.Name, labels);

        if (project.Endpoints.Any(e => e.IsExternal))
        {
            foreach (var grpc in project.Endpoints.Where(e => e.IsExternal && e.Http2Only))
            {
                // OTLP/gRPC is HTTP/2 end to end, which most HTTP Ingress controllers do not pass through.
                yield return Map(
                    ("apiVersion", "v1"),
                    ("kind", "Service"),
                    ("metadata", Map(("name", $"{project.Name}-otlp-{grpc.Name}"), ("labels", labels))),
                    ("spec", Map(
                        ("type", "LoadBalancer"),
                        ("selector", labels),
                        ("ports", List(Map(("name", grpc.Name), ("port", ContainerPort(project, grpc)), ("targetPort", grpc.Name), ("protocol", "TCP")))))));
            }

            var http = project.GetEndpoint("http");
            var rule = Map(
                ("host", options.Host),
                ("http", Map(("paths", List(Map(
                    ("path", "/"),
                    ("pathType", "Prefix"),
                    ("backend", Map(("service", Map(("name", project.Name), ("port", Map(("name", http.Name)))))))))))));
            yield return Map(
                ("apiVersion", "networking.k8s.io/v1"),
                ("kind", "Ingress"),
                ("metadata", Map(
                    ("name", project.Name),
                    ("labels", labels),
                    // OTLP requests may be up to 20 MiB (the gateway answers 413 above that).
                    ("annotations", Map(("nginx.ingress.kubernetes.io/proxy-body-size", "21m"))))),
                ("spec", Map(("rules", List(rule)))));
        }
    }

    private List<object> Environment(ProjectResource project)
    {
        var environment = new List<object>();
        foreach (var (name, value) in project.Environment)
        {
            environment.Add(value switch
            {
                LiteralValue literal => Map(("name", name), ("value", literal.Value)),
                ParameterValue or ConnectionStringValue => Map(("name", name), ("valueFrom", SecretRef(SecretKey(value)))),
                EndpointUrlValue url => Map(("name", name), ("value", $"http://{url.Project.Name}:{ContainerPort(url.Project, url.Project.GetEndpoint(url.Endpoint))}")),
                EndpointBindingValue binding => Map(("name", name), ("value", $"http://+:{ContainerPort(binding.Project, binding.Project.GetEndpoint(binding.Endpoint))}")),
                _ => throw new InvalidOperationException($"cannot publish {name} of {project.Name}"),
            });
        }

        // Structured logs for the cluster's log pipeline; a writable HOME on a read-only root filesystem.
        environment.Add(Map(("name", "Logging__Console__FormatterName"), ("value", "json")));
        environment.Add(Map(("name", "HOME"), ("value", "/tmp")));
        return environment;
    }

    private static object Probe(string path, int periodSeconds) => Map(
        ("httpGet", Map(("path", path), ("port", "http"))),
        ("initialDelaySeconds", 5),
        ("periodSeconds", periodSeconds),
        ("timeoutSeconds", 5),
        ("failureThreshold", 3));

    private static object Service(string name, OrderedDictionary<string, object> selector, IEnumerable<(string Name, int Port)> ports, bool headless = false) => Map(
        ("apiVersion", "v1"),
        ("kind", "Service"),
        ("metadata", Map(("name", name), ("labels", selector))),
        ("spec", Map(
            ("clusterIP", headless ? "None" : null),
            ("selector", selector),
            ("ports", ports.Select(p => (object)Map(("name", p.Name), ("port", p.Port), ("targetPort", p.Name), ("protocol", "TCP"))).ToList()))));

    private IEnumerable<object> PostgresObjects(PostgresResource postgres)
    {
        var labels = Labels(postgres.Name);
        var container = Map(
            ("name", "postgres"),
            ("image", postgres.Image),
            ("ports", List(Map(("name", "postgres"), ("containerPort", PostgresPort)))),
            ("env", List(
                Map(("name", "POSTGRES_USER"), ("value", postgres.UserName)),
                Map(("name", "POSTGRES_DB"), ("value", postgres.DatabaseName)),
                Map(("name", "POSTGRES_PASSWORD"), ("valueFrom", SecretRef(postgres.Password.Name))),
                Map(("name", "PGDATA"), ("value", "/var/lib/postgresql/data/pgdata")))),
            ("readinessProbe", Map(
                ("exec", Map(("command", List("pg_isready", "-U", postgres.UserName, "-d", postgres.DatabaseName)))),
                ("periodSeconds", 10))),
            ("resources", Map(
                ("requests", Map(("cpu", "1"), ("memory", "2Gi"))),
                ("limits", Map(("memory", "4Gi"))))),
            ("volumeMounts", List(Map(("name", "data"), ("mountPath", "/var/lib/postgresql/data")))));

        yield return Service(postgres.Name, labels, [("postgres", PostgresPort)], headless: true);
        yield return StatefulSet(postgres.Name, labels, postgres.Name, replicas: 1, fsGroup: 70, container, storage: "50Gi");
    }

    private IEnumerable<object> KafkaObjects(KafkaResource kafka)
    {
        var labels = Labels(kafka.Name);
        var headless = $"{kafka.Name}-headless";
        var voters = string.Join(',', Enumerable.Range(0, KafkaReplicas)
            .Select(i => $"{i}@{kafka.Name}-{i}.{headless}.{options.Namespace}.svc.cluster.local:{KafkaControllerPort}"));
        var replicas = KafkaReplicas.ToString(CultureInfo.InvariantCulture);
        var settings = new (string Name, string Value)[]
        {
            ("CLUSTER_ID", ClusterId()),
            ("KAFKA_PROCESS_ROLES", "broker,controller"),
            ("KAFKA_LISTENERS", $"PLAINTEXT://:{KafkaPort},CONTROLLER://:{KafkaControllerPort}"),
            ("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"),
            ("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER"),
            ("KAFKA_INTER_BROKER_LISTENER_NAME", "PLAINTEXT"),
            ("KAFKA_CONTROLLER_QUORUM_VOTERS", voters),
            ("KAFKA_LOG_DIRS", "/var/lib/kafka/data"),
            ("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false"),
            ("KAFKA_DEFAULT_REPLICATION_FACTOR", replicas),
            ("KAFKA_MIN_INSYNC_REPLICAS", "2"),
            ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", replicas),
            ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", replicas),
            ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "2"),
        };
        var container = Map(
            ("name", "kafka"),
            ("image", kafka.Image),
            // KRaft in combined mode: each pod is broker and controller; its node id is its ordinal.
            ("command", List("/bin/sh", "-c",
                $"export KAFKA_NODE_ID=${{HOSTNAME##*-}} KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://${{HOSTNAME}}.{headless}.{options.Namespace}.svc.cluster.local:{KafkaPort}; exec /etc/kafka/docker/run")),
            ("ports", List(
                Map(("name", "kafka"), ("containerPort", KafkaPort)),
                Map(("name", "controller"), ("containerPort", KafkaControllerPort)))),
            ("env", settings.Select(e => (object)Map(("name", e.Name), ("value", e.Value))).ToList()),
            ("readinessProbe", Map(("tcpSocket", Map(("port", "kafka"))), ("periodSeconds", 10))),
            ("resources", Map(
                ("requests", Map(("cpu", "500m"), ("memory", "2Gi"))),
                ("limits", Map(("memory", "4Gi"))))),
            ("volumeMounts", List(Map(("name", "data"), ("mountPath", "/var/lib/kafka/data")))));

        yield return Service(kafka.Name, labels, [("kafka", KafkaPort)]);
        yield return Service(headless, labels, [("kafka", KafkaPort), ("controller", KafkaControllerPort)], headless: true);
        yield return StatefulSet(kafka.Name, labels, headless, KafkaReplicas, fsGroup: 1000, container, storage: "100Gi");

        // With replication 3 and min.insync.replicas 2, producing stops when two brokers are down at once.
        yield return DisruptionBudget(kafka.Name, labels);
    }

    /// <summary>
    /// Voluntary disruptions (node drains, upgrades) take at most one pod of the workload at a time. A pod
    /// that is not ready may always be evicted, so a crash-looping replica never blocks a drain.
    /// </summary>
    private static object DisruptionBudget(string name, OrderedDictionary<string, object> labels) => Map(
        ("apiVersion", "policy/v1"),
        ("kind", "PodDisruptionBudget"),
        ("metadata", Map(("name", name), ("labels", labels))),
        ("spec", Map(
            ("maxUnavailable", 1),
            ("selector", Map(("matchLabels", labels))),
            ("unhealthyPodEvictionPolicy", "AlwaysAllow"))));

    private object StatefulSet(string name, OrderedDictionary<string, object> labels, string serviceName, int replicas, int fsGroup, object container, string storage)
    {
        var podSpec = Map(
            ("securityContext", Map(("fsGroup", fsGroup))),
            ("containers", List(container)));

        // volumeClaimTemplates is a list kubectl replaces whole, so it compares it with what the server
        // returns: write every default the server fills in (apiVersion/kind, volumeMode, status), or each
        // apply sends the list again and reports the StatefulSet "configured". Servers up to 1.32 also
        // return the template's zero creationTimestamp as null; 1.33 and newer leave it out.
        var volumeClaim = Map(
            ("apiVersion", "v1"),
            ("kind", "PersistentVolumeClaim"),
            ("metadata", Map(
                ("creationTimestamp", options.KubernetesVersion < NoNullCreationTimestamp ? Null : null),
                ("name", "data"))),
            ("spec", Map(
                ("accessModes", List("ReadWriteOnce")),
                ("resources", Map(("requests", Map(("storage", storage))))),
                ("volumeMode", "Filesystem"))),
            ("status", Map(("phase", "Pending"))));
        return Map(
            ("apiVersion", "apps/v1"),
            ("kind", "StatefulSet"),
            ("metadata", Map(("name", name), ("labels", labels))),
            ("spec", Map(
                ("serviceName", serviceName),
                ("replicas", replicas),
                ("podManagementPolicy", "Parallel"),
                ("selector", Map(("matchLabels", labels))),
                ("template", Map(("metadata", Map(("labels", labels))), ("spec", podSpec))),
                ("volumeClaimTemplates", List(volumeClaim)))));
    }

    private static object SecretRef(string key) => Map(("secretKeyRef", Map(("name", SecretName), ("key", key))));

    /// <summary>Creates the graph's topics with their partition counts, waiting for the brokers first.</summary>
    private object TopicsJob(KafkaResource kafka)
    {
        var replication = options.ExternalKafka ? "${REPLICATION_FACTOR}" : KafkaReplicas.ToString(CultureInfo.InvariantCulture);
        var script = new StringBuilder()
            .Append("until /opt/kafka/bin/kafka-topics.sh --bootstrap-server \"$BOOTSTRAP\" --list >/dev/null 2>&1; do echo waiting for kafka; sleep 5; done\n");
        foreach (var topic in kafka.Topics)
        {
            script.Append(CultureInfo.InvariantCulture,
                $"/opt/kafka/bin/kafka-topics.sh --bootstrap-server \"$BOOTSTRAP\" --create --if-not-exists --topic {topic.Name} --partitions {topic.Partitions} --replication-factor {replication}");
            script.Append(topic.RetentionBytes is { } retention ? $" --config retention.bytes={retention.ToString(CultureInfo.InvariantCulture)}\n" : "\n");
        }

        var labels = Labels("kafka-topics");
        var env = List(Map(("name", "BOOTSTRAP"), ("valueFrom", SecretRef($"connection-string-{kafka.ConnectionName}"))));
        if (options.ExternalKafka)
        {
            env.Add(Map(("name", "REPLICATION_FACTOR"), ("value", "3")));
        }

        return Map(
            ("apiVersion", "batch/v1"),
            ("kind", "Job"),
            ("metadata", Map(("name", "kafka-topics"), ("labels", labels))),
            ("spec", Map(
                ("backoffLimit", 10),
                ("template", Map(
                    ("metadata", Map(("labels", labels))),
                    ("spec", Map(
                        ("restartPolicy", "OnFailure"),
                        ("containers", List(Map(
                            ("name", "kafka-topics"),
                            ("image", kafka.Image),
                            ("command", List("/bin/sh", "-c", script.ToString())),
                            ("env", env)))))))))));
    }

    /// <summary>A KRaft cluster id (22 characters of base64url) derived from the namespace, so output is stable.</summary>
    private string ClusterId()
        => Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes("trulayer-kafka:" + options.Namespace)).AsSpan(0, 16))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static OrderedDictionary<string, object> Labels(string name) => Map(
        ("app.kubernetes.io/name", name),
        ("app.kubernetes.io/part-of", PartOf));

    private static OrderedDictionary<string, object> PartOfLabels() => Map(("app.kubernetes.io/part-of", PartOf));
}
