using System.CommandLine;
using Trulayer.AppHost.Publish;

namespace Trulayer.AppHost;

/// <summary><c>publish --target k8s --output dir</c>: the resource graph as Kubernetes manifests.</summary>
internal static class PublishCommand
{
    public static Command Create()
    {
        var target = new Option<string>("--target") { Description = "What to publish for (k8s)", Required = true };
        target.AcceptOnlyFromAmong("k8s");
        var output = new Option<string>("--output") { Description = "Folder to write the manifests to", Required = true };
        var registry = new Option<string>("--registry") { Description = "Image registry", DefaultValueFactory = _ => "ghcr.io/trulayer" };
        var tag = new Option<string>("--tag") { Description = "Image tag", DefaultValueFactory = _ => "latest" };
        var ns = new Option<string>("--namespace") { Description = "Kubernetes namespace", DefaultValueFactory = _ => "trulayer" };
        var host = new Option<string?>("--host") { Description = "Ingress host of the gateway (default: any host)" };
        var externalPostgres = new Option<bool>("--external-postgres") { Description = "No PostgreSQL StatefulSet; the Secret's connection string points at yours" };
        var externalKafka = new Option<bool>("--external-kafka") { Description = "No Kafka StatefulSet; the Secret's bootstrap servers point at yours" };
        var kubernetesVersion = new Option<Version>("--kubernetes-version")
        {
            Description = "Your cluster's version (major.minor); the output matches what that API server returns, so a re-apply changes nothing",
            DefaultValueFactory = _ => PublishOptions.DefaultKubernetesVersion,
            CustomParser = result => PublishOptions.ParseKubernetesVersion(result.Tokens.Single().Value) is { } version
                ? version
                : Refuse(result, $"--kubernetes-version '{result.Tokens.Single().Value}' is not a version such as 1.32"),
        };

        var command = new Command("publish", "Write Kubernetes manifests (plain YAML + kustomization.yaml) from the resource graph")
        {
            target, output, registry, tag, ns, host, externalPostgres, externalKafka, kubernetesVersion,
        };
        command.SetAction(parse =>
        {
            var options = new PublishOptions
            {
                OutputDirectory = Path.GetFullPath(parse.GetValue(output)!),
                Registry = parse.GetValue(registry)!,
                Tag = parse.GetValue(tag)!,
                Namespace = parse.GetValue(ns)!,
                Host = parse.GetValue(host),
                ExternalPostgres = parse.GetValue(externalPostgres),
                ExternalKafka = parse.GetValue(externalKafka),
                KubernetesVersion = parse.GetValue(kubernetesVersion)!,
            };
            if (options.Problems() is [_, ..] problems)
            {
                foreach (var problem in problems)
                {
                    Console.Error.WriteLine(problem);
                }

                return 2;
            }

            var model = TrulayerModel.Build(StackSettings.Published);
            var files = new KubernetesPublisher(model, options).Publish();
            Console.WriteLine($"wrote {files.Count} files to {options.OutputDirectory}: {string.Join(", ", files)}");
            Console.WriteLine("Replace the placeholders in secret.yaml before applying (see its header), then: kubectl apply --server-side --field-manager=trulayer -k " + options.OutputDirectory);
            return 0;
        });
        return command;
    }

    private static Version Refuse(System.CommandLine.Parsing.ArgumentResult result, string message)
    {
        result.AddError(message);
        return PublishOptions.DefaultKubernetesVersion;
    }
}
