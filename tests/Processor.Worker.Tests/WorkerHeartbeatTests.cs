namespace Trulayer.Processor.Tests;

public sealed class WorkerHeartbeatTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly ManualTime _time = new();

    [Fact]
    public void Check_LoopTurning_IsAlive() => Assert.True(new WorkerHeartbeat(_time).Check(Timeout).Alive);

    [Fact]
    public void Check_LoopNotTurnedForTheTimeout_IsNotAlive()
    {
        var heartbeat = new WorkerHeartbeat(_time);
        _time.Advance(TimeSpan.FromSeconds(61));

        var (alive, description) = heartbeat.Check(Timeout);

        Assert.False(alive);
        Assert.Equal("the worker loop has not turned for 61 s", description);
    }

    [Fact]
    public void Check_OneWriteStuckWhileAnotherComesAndGoes_IsNotAlive()
    {
        var heartbeat = new WorkerHeartbeat(_time);
        var stuck = new Thread(heartbeat.WriteStarted);
        stuck.Start();
        stuck.Join();
        _time.Advance(TimeSpan.FromSeconds(30));
        heartbeat.WriteStarted();
        heartbeat.WriteEnded();
        _time.Advance(TimeSpan.FromSeconds(31));
        heartbeat.Beat();

        var (alive, description) = heartbeat.Check(Timeout);

        Assert.False(alive);
        Assert.Equal("a database write has been running for 61 s", description);
    }

    [Fact]
    public void Check_WriteEndedAndLoopTurning_IsAlive()
    {
        var heartbeat = new WorkerHeartbeat(_time);
        heartbeat.WriteStarted();
        _time.Advance(TimeSpan.FromSeconds(90));
        heartbeat.WriteEnded();
        heartbeat.Beat();

        Assert.True(heartbeat.Check(Timeout).Alive);
    }

    [Fact]
    public void Check_LoopStopped_ReportsWhy()
    {
        var heartbeat = new WorkerHeartbeat(_time);
        heartbeat.Stopped("consumer fenced");

        Assert.Equal((false, "the worker loop has stopped: consumer fenced"), heartbeat.Check(Timeout));
    }

    /// <summary>A clock the test moves by hand.</summary>
    private sealed class ManualTime : TimeProvider
    {
        private long _ticks = 1;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
