using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using Trulayer.Workload.Load;
using Xunit.Abstractions;

namespace Trulayer.EndToEnd.Tests;

/// <summary>
/// Fault 5: malformed requests through the gateway to the real ingest. Every answer is 2xx or 4xx, never
/// 5xx; ingest stays up (the same process, never restarted) and its memory stays bounded.
/// <c>TRULAYER_FUZZ_CASES</c> sets how many cases run (3,000 by default; millions in a long run),
/// <c>TRULAYER_FUZZ_SEED</c> which ones. The mutations that stay valid are stored, all in the few
/// partitions of the base request's traces; when that backlog passes admission's bound, ingest sheds
/// load with 503 + Retry-After whatever the input, and the case is sent again after the wait, as an
/// exporter would: what is judged is the answer to the input.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class MalformedInputTests(EndToEndStack stack, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>Ingest's resident memory may not pass this, whatever it is sent (4 requests at a time of at most 20 MiB each).</summary>
    private const long MemoryBound = 1024L * 1024 * 1024;

    public Task InitializeAsync() => stack.WaitForBaselineAsync();

    /// <summary>The stored mutations can leave a backlog over admission's bound; the next class finds the stack as it expects.</summary>
    public Task DisposeAsync() => stack.WaitForBaselineAsync();

    [Fact]
    public async Task MutatedProtobufAndJsonRequests_AreAnswered2xxOr4xxAndIngestStaysUpWithBoundedMemory()
    {
        var cases = Setting("TRULAYER_FUZZ_CASES", 3000);
        var seed = Setting("TRULAYER_FUZZ_SEED", 20_251_122);
        var generator = new MalformedRequests(seed);
        var ingest = stack.App.GetProcessId("ingest") ?? throw new InvalidOperationException("ingest is not running");
        var restarts = stack.App.GetRestartCount("ingest");
        var failures = new ConcurrentQueue<string>();
        var answers = new ConcurrentDictionary<int, int>();
        var sheddingWaits = 0;
        long largestMemory = 0;
        using var http = new HttpClient { BaseAddress = stack.Gateway, Timeout = TimeSpan.FromSeconds(60) };

        await Parallel.ForEachAsync(Enumerable.Range(0, cases), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (id, cancellationToken) =>
        {
            var malformed = generator.Create(id);
            var status = await SendAsync(http, malformed, cancellationToken);
            var waitedSince = DateTime.UtcNow;
            while (status is { Code: 503, RetryAfter: { } wait } && status.Message.Contains("shedding load", StringComparison.Ordinal)
                   && DateTime.UtcNow - waitedSince < TimeSpan.FromSeconds(90))
            {
                Interlocked.Increment(ref sheddingWaits);
                await Task.Delay(wait, cancellationToken);
                status = await SendAsync(http, malformed, cancellationToken);
            }

            answers.AddOrUpdate(status.Code, 1, (_, n) => n + 1);
            if (status.Code is < 200 or >= 500 or (>= 300 and < 400))
            {
                failures.Enqueue($"{malformed} (seed {seed}): {status.Code} {status.Message}");
            }

            if (id % 100 == 0 && ProcessMemory.Read(ingest) is { } memory)
            {
                InterlockedMax(ref largestMemory, memory.ResidentBytes);
            }
        });

        var summary = $"{cases} cases, answers {string.Join(", ", answers.OrderBy(a => a.Key).Select(a => $"{a.Key}×{a.Value}"))}, " +
                      $"{sheddingWaits} waits while ingest shed load, largest ingest RSS {largestMemory / 1048576} MiB";
        output.WriteLine(summary);
        Assert.True(failures.IsEmpty, $"{failures.Count} answers were not 2xx/4xx ({summary}):\n{string.Join("\n", failures.Take(20))}");
        Assert.Equal(ingest, stack.App.GetProcessId("ingest"));
        Assert.Equal(restarts, stack.App.GetRestartCount("ingest"));
        Assert.True(largestMemory is > 0 and < MemoryBound, summary);
        Assert.Contains(answers.Keys, code => code == 400);
        Assert.Contains(answers.Keys, code => code == 200);
        var (healthStatus, _, body) = await stack.HealthAsync("ingest");
        Assert.True(healthStatus == 200, body);
    }

    private async Task<(int Code, string Message, TimeSpan? RetryAfter)> SendAsync(HttpClient http, MalformedCase malformed, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(malformed.Body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(malformed.ContentType);
        if (malformed.ContentEncoding is { } coding)
        {
            content.Headers.ContentEncoding.Add(coding);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, LoadTarget.TracesPath) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", stack.Dev.ApiKey);
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            return ((int)response.StatusCode, text.Length > 300 ? text[..300] : text, response.Headers.RetryAfter?.Delta);
        }
        catch (HttpRequestException ex)
        {
            return (0, "no answer: " + ex.Message, null);
        }
    }

    private static int Setting(string name, int fallback)
        => int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : fallback;

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
