using Trulayer.AppHost.Run;

namespace Trulayer.AppHost.Tests;

/// <summary><c>--replicas ingest=2,processor=2</c>: what it accepts, and what it says about what it does not.</summary>
public sealed class ReplicaCountsTests
{
    private static readonly Model.AppModel Model = TrulayerModel.Build(new StackSettings());

    [Fact]
    public void Parse_ServiceCountPairs_GivesEachCount()
    {
        var counts = ReplicaCounts.Parse(" ingest=2, processor = 3 ", Model);

        Assert.Equal(new Dictionary<string, int> { ["ingest"] = 2, ["processor"] = 3 }, counts);
    }

    [Fact]
    public void Parse_OneOfAServiceThatRunsOnce_IsAccepted()
        => Assert.Equal(1, ReplicaCounts.Parse("gateway=1", Model)["gateway"]);

    [Theory]
    [InlineData("", "service=count pairs separated by commas, as in ingest=2,processor=2")]
    [InlineData("ingest=2,", "service=count pairs separated by commas")]
    [InlineData("ingest", "'ingest' has no count: write it as ingest=2")]
    [InlineData("=2", "has no count")]
    [InlineData("ingest=two", "the count in 'ingest=two' must be a whole number from 1 to 8")]
    [InlineData("ingest=0", "must be a whole number from 1 to 8")]
    [InlineData("ingest=9", "must be a whole number from 1 to 8")]
    [InlineData("ingest=-1", "must be a whole number from 1 to 8")]
    [InlineData("ingest=2,ingest=3", "ingest is given twice")]
    [InlineData("ingestion=2", "'ingestion' is not a service of the stack (auth, processor, ingest, export, gateway)")]
    [InlineData("gateway=2", "gateway runs once locally; only ingest and processor can run as several replicas (gateway holds the stack's public ports)")]
    [InlineData("auth=2", "auth runs once locally; only ingest and processor can run as several replicas (what calls auth knows one address of it)")]
    public void Parse_WhatTheStackCannotRun_SaysWhatIsWrong(string text, string expected)
    {
        var error = Assert.Throws<FormatException>(() => ReplicaCounts.Parse(text, Model));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.StartsWith("--replicas", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RunCommand_BadReplicas_IsAParseErrorNamingTheOption()
    {
        var result = RunCommand.Configure(new System.CommandLine.RootCommand()).Parse(["--replicas", "gateway=2"]);

        var error = Assert.Single(result.Errors);
        Assert.Contains("gateway runs once locally", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0", "--health-timeout must be from 1 to 86400 seconds")]
    [InlineData("ten", "ten")]
    public void RunCommand_BadHealthTimeout_IsAParseErrorNamingTheOption(string value, string expected)
    {
        var result = RunCommand.Configure(new System.CommandLine.RootCommand()).Parse(["--health-timeout", value]);

        Assert.Contains(expected, Assert.Single(result.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RunCommand_HealthTimeout_DefaultsTo90Seconds()
    {
        Assert.Equal(90, RunCommand.Configure(new System.CommandLine.RootCommand()).Parse([]).GetValue<int>("--health-timeout"));
        Assert.Equal(1800, RunCommand.Configure(new System.CommandLine.RootCommand()).Parse(["--health-timeout", "1800"]).GetValue<int>("--health-timeout"));
    }

    [Fact]
    public void RunCommand_Replicas_ReachTheRunOptionsAsCounts()
    {
        var result = RunCommand.Configure(new System.CommandLine.RootCommand()).Parse(["--replicas", "ingest=2,processor=2"]);

        Assert.Empty(result.Errors);
        Assert.Equal(new Dictionary<string, int> { ["ingest"] = 2, ["processor"] = 2 }, result.GetValue<IReadOnlyDictionary<string, int>>("--replicas"));
    }

    [Fact]
    public async Task Start_ReplicasOfAServiceThatRunsOnce_FailsBeforeStartingAnything()
    {
        var state = TestDirectories.Create("replicas");
        try
        {
            var error = await Assert.ThrowsAsync<PrerequisiteException>(() => DistributedApplication.StartAsync(
                TrulayerModel.Build(new StackSettings { GatewayPort = 0, OtlpGrpcPort = 0 }),
                new RunOptions { StateDirectory = state, Replicas = new Dictionary<string, int> { ["export"] = 2 } },
                new MemoryLogSink()));

            Assert.Contains("export runs once locally", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            TestDirectories.TryDelete(state);
        }
    }
}
