using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using k8s;
using k8s.Models;
using Trulayer.AppHost.Publish;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Trulayer.AppHost.Tests;

/// <summary>One published object and the file it came from.</summary>
internal sealed record PublishedObject(string File, IKubernetesObject Object)
{
    public string Kind => Object.Kind;

    public string Name => ((IMetadata<V1ObjectMeta>)Object).Metadata?.Name ?? "";

    public override string ToString() => $"{File}: {Kind} {Name}";
}

/// <summary>
/// Reads published manifests strictly, as the Kubernetes object models and the API server do, and lists
/// what an API server (1.32) or the running cluster would refuse or leave broken. Every method returns
/// problems as sentences naming the file, object and field; none means the check passed.
/// </summary>
internal static class KubernetesManifests
{
    private static readonly JsonSerializerOptions StrictJson = new()
    {
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
    };

    /// <summary>
    /// The required fields of every model type the manifests use, as the Kubernetes 1.32 OpenAPI document
    /// lists them. A type missing here is itself a problem: add it with its required fields.
    /// </summary>
    private static readonly Dictionary<Type, string[]> RequiredFields = new()
    {
        [typeof(V1Namespace)] = [],
        [typeof(V1Secret)] = [],
        [typeof(V1ConfigMap)] = [],
        [typeof(V1Service)] = [],
        [typeof(V1ServiceSpec)] = [],
        [typeof(V1ServicePort)] = ["port"],
        [typeof(V1Deployment)] = [],
        [typeof(V1DeploymentSpec)] = ["selector", "template"],
        [typeof(V1StatefulSet)] = [],
        [typeof(V1StatefulSetSpec)] = ["selector", "template", "serviceName"],
        [typeof(V1Job)] = [],
        [typeof(V1JobSpec)] = ["template"],
        [typeof(V1Ingress)] = [],
        [typeof(V1IngressSpec)] = [],
        [typeof(V1IngressRule)] = [],
        [typeof(V1HTTPIngressRuleValue)] = ["paths"],
        [typeof(V1HTTPIngressPath)] = ["pathType", "backend"],
        [typeof(V1IngressBackend)] = [],
        [typeof(V1IngressServiceBackend)] = ["name"],
        [typeof(V1ServiceBackendPort)] = [],
        [typeof(V1PodDisruptionBudget)] = [],
        [typeof(V1PodDisruptionBudgetSpec)] = [],
        [typeof(V1ObjectMeta)] = [],
        [typeof(V1LabelSelector)] = [],
        [typeof(V1LabelSelectorRequirement)] = ["key", "operator"],
        [typeof(V1PodTemplateSpec)] = [],
        [typeof(V1PodSpec)] = ["containers"],
        [typeof(V1PodSecurityContext)] = [],
        [typeof(V1SeccompProfile)] = ["type"],
        [typeof(V1Container)] = ["name"],
        [typeof(V1ContainerPort)] = ["containerPort"],
        [typeof(V1EnvVar)] = ["name"],
        [typeof(V1EnvVarSource)] = [],
        [typeof(V1SecretKeySelector)] = ["key"],
        [typeof(V1ConfigMapKeySelector)] = ["key"],
        [typeof(V1EnvFromSource)] = [],
        [typeof(V1SecretEnvSource)] = [],
        [typeof(V1ConfigMapEnvSource)] = [],
        [typeof(V1Probe)] = [],
        [typeof(V1HTTPGetAction)] = ["port"],
        [typeof(V1TCPSocketAction)] = ["port"],
        [typeof(V1ExecAction)] = [],
        [typeof(V1ResourceRequirements)] = [],
        [typeof(V1SecurityContext)] = [],
        [typeof(V1Capabilities)] = [],
        [typeof(V1VolumeMount)] = ["name", "mountPath"],
        [typeof(V1Volume)] = ["name"],
        [typeof(V1EmptyDirVolumeSource)] = [],
        [typeof(V1SecretVolumeSource)] = [],
        [typeof(V1ConfigMapVolumeSource)] = [],
        [typeof(V1KeyToPath)] = ["key", "path"],
        [typeof(V1PersistentVolumeClaim)] = [],
        [typeof(V1PersistentVolumeClaimSpec)] = [],
        [typeof(V1PersistentVolumeClaimStatus)] = [],
        [typeof(V1VolumeResourceRequirements)] = [],
    };

    /// <summary>
    /// Parses every document of a file three ways, each strict: the object models (KubernetesYaml: an
    /// unknown or misspelled field, a value of the wrong shape, an unknown kind); the JSON kubectl would
    /// send (YAML 1.1 scalars, see <see cref="PlainScalar"/>) decoded as the API server does (a number or
    /// bool in a string field, a duplicate field); and the required fields.
    /// </summary>
    public static (List<PublishedObject> Objects, List<string> Problems) Parse(string file, string yaml)
    {
        var problems = new List<string>();
        List<object> models;
        try
        {
            models = KubernetesYaml.LoadAllFromString(yaml, strict: true);
        }
        catch (Exception e) when (e is YamlException or KeyNotFoundException or InvalidOperationException or ArgumentException or FormatException)
        {
            return ([], [$"{file}: the object models refuse it: {Describe(e)}"]);
        }

        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            return ([], [$"{file}: kubectl cannot read it: {Describe(e)}"]);
        }

        var objects = new List<PublishedObject>();
        for (var i = 0; i < stream.Documents.Count; i++)
        {
            var model = (IKubernetesObject)models[i];
            var where = $"{file}: {model.Kind} {((IMetadata<V1ObjectMeta>)model).Metadata?.Name}";
            try
            {
                var json = ToJson(stream.Documents[i].RootNode);
                var decoded = (IKubernetesObject)json.Deserialize(model.GetType(), StrictJson)!;
                problems.AddRange(MissingRequiredFields(decoded, "").Select(p => $"{where}: {p}"));
                objects.Add(new PublishedObject(file, decoded));
            }
            catch (Exception e) when (e is JsonException or FormatException)
            {
                problems.Add($"{where}: the API server would refuse it: {Describe(e)}");
            }
        }

        return (objects, problems);
    }

    /// <summary>Workload selectors match their pod template; every Service and PodDisruptionBudget selects some workload's pods.</summary>
    public static IEnumerable<string> SelectorProblems(IReadOnlyList<PublishedObject> objects)
    {
        var templates = PodTemplates(objects).ToList();
        foreach (var o in objects)
        {
            switch (o.Object)
            {
                case V1Deployment { Spec: var spec }:
                    if (!Matches(spec.Selector, spec.Template.Metadata?.Labels))
                    {
                        yield return $"{o}: spec.selector does not match the labels of spec.template";
                    }

                    break;
                case V1StatefulSet { Spec: var spec }:
                    if (!Matches(spec.Selector, spec.Template.Metadata?.Labels))
                    {
                        yield return $"{o}: spec.selector does not match the labels of spec.template";
                    }

                    break;
                case V1Service { Spec.Selector: { Count: > 0 } selector }:
                    if (!templates.Any(t => Matches(new V1LabelSelector { MatchLabels = selector }, t.Template.Metadata?.Labels)))
                    {
                        yield return $"{o}: spec.selector selects no published pods";
                    }

                    break;
                case V1PodDisruptionBudget { Spec.Selector: var selector }:
                    if (selector is null || !templates.Any(t => Matches(selector, t.Template.Metadata?.Labels)))
                    {
                        yield return $"{o}: spec.selector selects no published pods";
                    }

                    break;
            }
        }
    }

    /// <summary>Every Secret and ConfigMap a pod reads (keys included), every Service an Ingress or StatefulSet names, is published.</summary>
    public static IEnumerable<string> ReferenceProblems(IReadOnlyList<PublishedObject> objects)
    {
        var secrets = objects.Select(o => o.Object).OfType<V1Secret>()
            .ToDictionary(s => s.Metadata.Name, s => (s.Data?.Keys ?? []).Concat(s.StringData?.Keys ?? []).ToHashSet(StringComparer.Ordinal));
        var configMaps = objects.Select(o => o.Object).OfType<V1ConfigMap>()
            .ToDictionary(c => c.Metadata.Name, c => (c.Data?.Keys ?? []).Concat(c.BinaryData?.Keys ?? []).ToHashSet(StringComparer.Ordinal));

        string? Missing(string kind, Dictionary<string, HashSet<string>> published, string? name, string? key, bool? optional)
            => optional == true ? null
                : name is null || !published.TryGetValue(name, out var keys) ? $"{kind} '{name}' is not published"
                : key is not null && !keys.Contains(key) ? $"{kind} '{name}' has no key '{key}'"
                : null;

        foreach (var (o, template) in PodTemplates(objects))
        {
            var spec = template.Spec;
            foreach (var container in (spec.InitContainers ?? []).Concat(spec.Containers))
            {
                foreach (var env in container.Env ?? [])
                {
                    var problem = env.ValueFrom switch
                    {
                        { SecretKeyRef: { } s } => Missing("Secret", secrets, s.Name, s.Key, s.Optional),
                        { ConfigMapKeyRef: { } c } => Missing("ConfigMap", configMaps, c.Name, c.Key, c.Optional),
                        _ => null,
                    };
                    if (problem is not null)
                    {
                        yield return $"{o}: container {container.Name}, env {env.Name}: {problem}";
                    }
                }

                foreach (var source in container.EnvFrom ?? [])
                {
                    var problem = source switch
                    {
                        { SecretRef: { } s } => Missing("Secret", secrets, s.Name, null, s.Optional),
                        { ConfigMapRef: { } c } => Missing("ConfigMap", configMaps, c.Name, null, c.Optional),
                        _ => null,
                    };
                    if (problem is not null)
                    {
                        yield return $"{o}: container {container.Name}, envFrom: {problem}";
                    }
                }
            }

            foreach (var volume in spec.Volumes ?? [])
            {
                var problems = volume switch
                {
                    { Secret: { } s } => (s.Items ?? [new V1KeyToPath { Key = null!, Path = "" }])
                        .Select(item => Missing("Secret", secrets, s.SecretName, item.Key, s.Optional)),
                    { ConfigMap: { } c } => (c.Items ?? [new V1KeyToPath { Key = null!, Path = "" }])
                        .Select(item => Missing("ConfigMap", configMaps, c.Name, item.Key, c.Optional)),
                    _ => [],
                };
                foreach (var problem in problems.OfType<string>())
                {
                    yield return $"{o}: volume {volume.Name}: {problem}";
                }
            }
        }

        var services = objects.Select(o => o.Object).OfType<V1Service>().ToDictionary(s => s.Metadata.Name);
        foreach (var o in objects)
        {
            if (o.Object is V1StatefulSet { Spec.ServiceName: { } governing } && !services.ContainsKey(governing))
            {
                yield return $"{o}: spec.serviceName '{governing}' is not a published Service";
            }

            if (o.Object is V1Ingress ingress)
            {
                var backends = (ingress.Spec.Rules ?? []).SelectMany(r => r.Http?.Paths ?? []).Select(p => p.Backend.Service)
                    .Append(ingress.Spec.DefaultBackend?.Service).OfType<V1IngressServiceBackend>();
                foreach (var backend in backends)
                {
                    if (!services.TryGetValue(backend.Name, out var service))
                    {
                        yield return $"{o}: backend Service '{backend.Name}' is not published";
                    }
                    else if (!service.Spec.Ports.Any(p => backend.Port.Name is { } name ? p.Name == name : p.Port == backend.Port.Number))
                    {
                        yield return $"{o}: backend Service '{backend.Name}' has no port {backend.Port.Name ?? backend.Port.Number?.ToString(CultureInfo.InvariantCulture)}";
                    }
                }
            }
        }
    }

    /// <summary>Every probe and every Service targetPort names or numbers a port its container declares.</summary>
    public static IEnumerable<string> PortProblems(IReadOnlyList<PublishedObject> objects)
    {
        var templates = PodTemplates(objects).ToList();
        foreach (var (o, template) in templates)
        {
            foreach (var container in template.Spec.Containers)
            {
                var probes = new (string Name, V1Probe? Probe)[] { ("readinessProbe", container.ReadinessProbe), ("livenessProbe", container.LivenessProbe), ("startupProbe", container.StartupProbe) };
                foreach (var (name, probe) in probes)
                {
                    var port = probe switch
                    {
                        { HttpGet: { } http } => http.Port,
                        { TcpSocket: { } tcp } => tcp.Port,
                        { Grpc: { } grpc } => (IntOrString)grpc.Port,
                        _ => null,
                    };
                    if (port is not null && !Declares(container, port))
                    {
                        yield return $"{o}: container {container.Name}, {name}: port {port.Value} is not a port of the container";
                    }
                }
            }
        }

        foreach (var o in objects)
        {
            if (o.Object is not V1Service { Spec: { Selector.Count: > 0 } spec })
            {
                continue;
            }

            var containers = templates.Where(t => Matches(new V1LabelSelector { MatchLabels = spec.Selector }, t.Template.Metadata?.Labels))
                .SelectMany(t => t.Template.Spec.Containers).ToList();
            foreach (var port in spec.Ports)
            {
                var target = port.TargetPort ?? (IntOrString)port.Port;
                if (!containers.Any(c => Declares(c, target)))
                {
                    yield return $"{o}: port {port.Name} targets {target.Value}, which no selected container declares";
                }
            }
        }
    }

    /// <summary>
    /// Names the API server checks by rule: object names are RFC 1123 labels (Services RFC 1035 labels),
    /// as are container and volume names; port names are IANA service names; Secret keys are config keys.
    /// </summary>
    public static IEnumerable<string> NameProblems(IReadOnlyList<PublishedObject> objects)
    {
        foreach (var o in objects)
        {
            var valid = o.Object is V1Service ? KubernetesNames.IsServiceName(o.Name) : KubernetesNames.IsDnsLabel(o.Name);
            if (!valid)
            {
                yield return $"{o}: metadata.name '{o.Name}' is not a DNS label";
            }

            if (o.Object is V1Secret secret)
            {
                foreach (var key in (secret.Data?.Keys ?? []).Concat(secret.StringData?.Keys ?? []).Where(k => !KubernetesNames.IsConfigKey(k)))
                {
                    yield return $"{o}: key '{key}' is not a valid Secret key";
                }
            }

            if (o.Object is V1Service service)
            {
                foreach (var port in service.Spec.Ports.Where(p => p.Name is not null && !KubernetesNames.IsDnsLabel(p.Name)))
                {
                    yield return $"{o}: port name '{port.Name}' is not a DNS label";
                }
            }
        }

        foreach (var (o, template) in PodTemplates(objects))
        {
            foreach (var container in template.Spec.Containers)
            {
                if (!KubernetesNames.IsDnsLabel(container.Name))
                {
                    yield return $"{o}: container name '{container.Name}' is not a DNS label";
                }

                foreach (var port in (container.Ports ?? []).Where(p => p.Name is not null && !KubernetesNames.IsPortName(p.Name)))
                {
                    yield return $"{o}: container {container.Name}: port name '{port.Name}' is not an IANA service name";
                }
            }

            foreach (var volume in (template.Spec.Volumes ?? []).Where(v => !KubernetesNames.IsDnsLabel(v.Name)))
            {
                yield return $"{o}: volume name '{volume.Name}' is not a DNS label";
            }
        }
    }

    /// <summary>The pod templates of Deployments, StatefulSets and Jobs.</summary>
    public static IEnumerable<(PublishedObject Owner, V1PodTemplateSpec Template)> PodTemplates(IEnumerable<PublishedObject> objects)
    {
        foreach (var o in objects)
        {
            var template = o.Object switch
            {
                V1Deployment d => d.Spec.Template,
                V1StatefulSet s => s.Spec.Template,
                V1Job j => j.Spec.Template,
                _ => null,
            };
            if (template is not null)
            {
                yield return (o, template);
            }
        }
    }

    /// <summary>Whether a label selector selects pods with these labels (an empty selector selects nothing here).</summary>
    public static bool Matches(V1LabelSelector? selector, IDictionary<string, string>? labels)
    {
        labels ??= new Dictionary<string, string>();
        if (selector is null || (selector.MatchLabels is not { Count: > 0 } && selector.MatchExpressions is not { Count: > 0 }))
        {
            return false;
        }

        return (selector.MatchLabels ?? new Dictionary<string, string>()).All(l => labels.TryGetValue(l.Key, out var v) && v == l.Value)
               && (selector.MatchExpressions ?? []).All(e => e.OperatorProperty switch
               {
                   "In" => labels.TryGetValue(e.Key, out var v) && e.Values.Contains(v),
                   "NotIn" => !labels.TryGetValue(e.Key, out var v) || !e.Values.Contains(v),
                   "Exists" => labels.ContainsKey(e.Key),
                   "DoesNotExist" => !labels.ContainsKey(e.Key),
                   _ => false,
               });
    }

    private static bool Declares(V1Container container, IntOrString port)
        => int.TryParse(port.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            ? (container.Ports ?? []).Any(p => p.ContainerPort == number)
            : (container.Ports ?? []).Any(p => p.Name == port.Value);

    /// <summary>Required fields that are absent or empty, with their JSON paths; model types the table lacks.</summary>
    private static IEnumerable<string> MissingRequiredFields(object model, string path)
    {
        var type = model.GetType();
        if (!RequiredFields.TryGetValue(type, out var required))
        {
            yield return $"{path}: {type.Name} is not in the required-field table; add it with its required fields";
            yield break;
        }

        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var name = property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name;
            if (name is null)
            {
                continue;
            }

            var value = property.GetValue(model);
            if (required.Contains(name) && value is null or "" or ICollection { Count: 0 })
            {
                yield return $"{path}.{name} is required";
            }

            var children = value switch
            {
                null or string or IntOrString or ResourceQuantity or byte[] => [],
                IDictionary dictionary => dictionary.Values.Cast<object?>().Select((v, i) => (Value: v, Path: $"{path}.{name}[{i}]")),
                IEnumerable list => list.Cast<object?>().Select((v, i) => (Value: v, Path: $"{path}.{name}[{i}]")),
                _ when property.PropertyType.Namespace == typeof(V1Pod).Namespace => [(Value: (object?)value, Path: $"{path}.{name}")],
                _ => [],
            };
            foreach (var (child, childPath) in children)
            {
                if (child is not null && child.GetType().Namespace == typeof(V1Pod).Namespace && child is not (IntOrString or ResourceQuantity))
                {
                    foreach (var problem in MissingRequiredFields(child, childPath))
                    {
                        yield return problem;
                    }
                }
            }
        }
    }

    /// <summary>
    /// The JSON kubectl sends for a YAML document (sigs.k8s.io/yaml): plain scalars resolved by YAML 1.1
    /// rules, quoted and block scalars kept as strings, keys as strings; a duplicate key is an error.
    /// </summary>
    private static JsonNode? ToJson(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode map:
                var json = new JsonObject();
                foreach (var (key, value) in map.Children)
                {
                    var name = ToJson(key) is JsonValue keyValue && keyValue.TryGetValue<string>(out var keyText) ? keyText : ToJson(key)?.ToJsonString() ?? "null";
                    if (!json.TryAdd(name, ToJson(value)))
                    {
                        throw new FormatException($"duplicate key '{name}' at {key.Start}");
                    }
                }

                return json;
            case YamlSequenceNode sequence:
                return new JsonArray([.. sequence.Children.Select(ToJson)]);
            case YamlScalarNode scalar:
                var text = scalar.Value ?? "";
                if (scalar.Style is not (ScalarStyle.Plain or ScalarStyle.Any) || scalar.Tag is { IsEmpty: false, IsNonSpecific: false, Value: "tag:yaml.org,2002:str" })
                {
                    return JsonValue.Create(text);
                }

                var (kind, resolved) = PlainScalar.Resolve(text);
                return kind switch
                {
                    PlainScalarKind.Null => null,
                    PlainScalarKind.Bool => JsonValue.Create((bool)resolved!),
                    PlainScalarKind.Int => resolved is long l ? JsonValue.Create(l) : JsonValue.Create((ulong)resolved!),
                    PlainScalarKind.Float when double.IsFinite((double)resolved!) => JsonValue.Create((double)resolved),
                    PlainScalarKind.Float => throw new FormatException($"'{text}' at {scalar.Start} has no JSON form"),
                    _ => JsonValue.Create(text),
                };
            default:
                throw new FormatException($"unexpected YAML node {node.NodeType} at {node.Start}");
        }
    }

    private static string Describe(Exception e)
    {
        var messages = new List<string>();
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            messages.Add(inner.Message.ReplaceLineEndings(" "));
        }

        return string.Join(" <- ", messages.Distinct());
    }
}
