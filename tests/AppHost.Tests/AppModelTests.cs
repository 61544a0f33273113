using System.Net;
using System.Net.Sockets;
using Trulayer.AppHost.Model;
using Trulayer.AppHost.Run;
using Trulayer.ServiceDefaults.Identity;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.AppHost.Tests;

public sealed class AppModelTests
{
    private static readonly AppModel Model = TrulayerModel.Build(new StackSettings());

    [Fact]
    public void StartOrder_FollowsTheDesign()
    {
        var order = Model.StartOrder().Select(group => group.Select(r => r.Name).Order().ToArray()).ToArray();

        Assert.Equal(
            [["postgres"], ["kafka"], ["auth"], ["processor"], ["export", "ingest"], ["gateway"]],
            order);
    }

    [Fact]
    public void Services_GetAspireConventionEnvironment()
    {
        var ingest = Model.Get<ProjectResource>("ingest");
        var gateway = Model.Get<ProjectResource>("gateway");
        var export = Model.Get<ProjectResource>("export");

        Assert.IsType<ConnectionStringValue>(ingest.Environment["ConnectionStrings__kafka"]);
        Assert.False(ingest.Environment.ContainsKey("ConnectionStrings__trulayer"));
        Assert.IsType<ConnectionStringValue>(export.Environment["ConnectionStrings__trulayer"]);
        Assert.Equal("Http2", ((LiteralValue)ingest.Environment["Kestrel__Endpoints__grpc__Protocols"]).Value);
        Assert.IsType<EndpointUrlValue>(gateway.Environment["services__ingest__grpc__0"]);
        Assert.IsType<EndpointUrlValue>(gateway.Environment["services__auth__http__0"]);
        Assert.Equal("gateway", ((LiteralValue)gateway.Environment["OTEL_SERVICE_NAME"]).Value);
        Assert.IsType<EndpointUrlValue>(gateway.Environment["services__processor__http__0"]);
        Assert.All(Model.Projects, p => Assert.IsType<ParameterValue>(p.Environment["Identity__AssertionKey"]));
    }

    [Fact]
    public void DevApiKey_IsGeneratedWithItsChecksum()
    {
        var devApiKey = Model.Parameters.Single(p => p.Name == "auth-dev-api-key");

        Assert.True(devApiKey.Secret);
        Assert.Equal(ApiKeyShape.Checksummed, ApiKeyFormat.Check(devApiKey.Generate()));
        Assert.NotEqual(devApiKey.Generate(), devApiKey.Generate());
    }

    [Fact]
    public void Gateway_HasThePublicPorts()
    {
        var gateway = Model.Get<ProjectResource>("gateway");

        Assert.Equal(8080, gateway.GetEndpoint("http").Port);
        Assert.Equal(4317, gateway.GetEndpoint("grpc").Port);
        Assert.True(gateway.GetEndpoint("grpc").Http2Only);
    }

    [Fact]
    public void ExternalServers_ReplaceTheLocalOnes()
    {
        var model = TrulayerModel.Build(new StackSettings { ExternalKafka = "kafka:9092", ExternalPostgres = "Host=db" });

        Assert.Equal("kafka:9092", model.Get<KafkaResource>("kafka").ExternalBootstrapServers);
        Assert.Equal("Host=db", model.Get<PostgresResource>("postgres").ExternalConnectionString);
    }

    [Fact]
    public void SpansTopic_FewPartitionsForTheDevBroker_ManyWhenPublished()
    {
        Assert.Equal(KafkaTopics.DevSpansPartitions, Model.Get<KafkaResource>("kafka").Topics.Single(t => t.Name == KafkaTopics.Spans).Partitions);
        Assert.Equal(48, KafkaTopics.DevSpansPartitions);
        var published = TrulayerModel.Build(StackSettings.Published);
        Assert.Equal(StackSettings.PublishedSpansPartitions, published.Get<KafkaResource>("kafka").Topics.Single(t => t.Name == KafkaTopics.Spans).Partitions);
        Assert.Equal(256, StackSettings.PublishedSpansPartitions);
    }

    [Fact]
    public void LogsTopics_CreatedWithFewPartitionsForTheDevBroker_MoreWhenPublished()
    {
        var topics = Model.Get<KafkaResource>("kafka").Topics;
        Assert.Equal(KafkaTopics.DevLogsPartitions, topics.Single(t => t.Name == KafkaTopics.Logs).Partitions);
        Assert.Equal(KafkaTopics.DevLogsDeadLetterPartitions, topics.Single(t => t.Name == KafkaTopics.LogsDeadLetter).Partitions);
        Assert.Equal(8, KafkaTopics.DevLogsPartitions);
        var published = TrulayerModel.Build(StackSettings.Published).Get<KafkaResource>("kafka").Topics;
        Assert.Equal(StackSettings.PublishedLogsPartitions, published.Single(t => t.Name == KafkaTopics.Logs).Partitions);
        Assert.Equal(StackSettings.PublishedSpansRetentionBytes, published.Single(t => t.Name == KafkaTopics.Logs).RetentionBytes);
        Assert.Contains(published, t => t.Name == KafkaTopics.LogsDeadLetter);
    }

    [Fact]
    public void LocalSettings_StayOutOfWhatIsPublished()
    {
        var processor = Model.Get<ProjectResource>("processor");
        var ingest = Model.Get<ProjectResource>("ingest");

        Assert.Equal("16384", processor.LocalEnvironment["Kafka__Consumer__queued.max.messages.kbytes"]);
        Assert.Equal("00:00:00.250", ingest.LocalEnvironment["Ingest__Admission__RefreshInterval"]);
        Assert.All(Model.Projects, p => Assert.Empty(p.Environment.Keys.Intersect(p.LocalEnvironment.Keys)));
        Assert.Equal(["ingest", "processor"], Model.Projects.Where(p => p.CanRunReplicasLocally).Select(p => p.Name).Order());
        Assert.All(Model.Projects, p => Assert.Equal(2, p.Replicas));
    }

    [Fact]
    public async Task Start_GatewayPortTaken_FailsWithOneLineSayingWhatToDo()
    {
        using var blocker = new TcpListener(IPAddress.Loopback, 0);
        blocker.Start();
        var port = ((IPEndPoint)blocker.LocalEndpoint).Port;
        var state = TestDirectories.Create("port");
        try
        {
            var model = TrulayerModel.Build(new StackSettings { GatewayPort = port, OtlpGrpcPort = 0 });
            var error = await Assert.ThrowsAsync<PrerequisiteException>(
                () => DistributedApplication.StartAsync(model, new RunOptions { StateDirectory = state }, new MemoryLogSink()));

            Assert.Contains($"port {port}", error.Message, StringComparison.Ordinal);
            Assert.Contains("--port", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', error.Message);
        }
        finally
        {
            TestDirectories.TryDelete(state);
        }
    }
}
