using System.Net.Http.Json;
using System.Text.Json;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace Trulayer.Dashboard.Tests;

[CollectionDefinition(Name)]
public sealed class DashboardCollection : ICollectionFixture<DashboardStack>
{
    public const string Name = "dashboard";
}

/// <summary>
/// The whole stack from the AppHost's graph (the gateway serving the dashboard's files from its build
/// output) and one headless Debian chromium driven by Playwright through <c>ExecutablePath</c>. Each test
/// opens its own browser context (its own cookies), signs in through the sign-in page as a person would,
/// and writes its screenshots to artifacts/dashboard-screenshots.
/// </summary>
public sealed class DashboardStack : StackFixture
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("the browser has not started");

    public static string ScreenshotDirectory { get; } = Path.Combine(Trulayer.AppHost.RunCommand.RepositoryRoot, "artifacts", "dashboard-screenshots");

    public override async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: install Debian's chromium (./test.sh does: scripts/prerequisites.sh --browser)");
        }

        await base.InitializeAsync();
        Directory.CreateDirectory(ScreenshotDirectory);
        // Conditions are polled, never slept on; on a shared, loaded machine the app's first start (download,
        // WebAssembly compile) can take far longer than Playwright's 5 s default, so waits are generous.
        Assertions.SetDefaultExpectTimeout(30_000);
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // Root has no sandbox; the rest keeps chromium from calling out to Google's services, which this
            // network refuses (and which a test has no business waiting for).
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            ],
        });
    }

    public override async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
        await base.DisposeAsync();
    }

    /// <summary>A fresh browser context (no cookies) with one page on the gateway's origin.</summary>
    public async Task<IPage> NewPageAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Gateway.ToString(),
            ViewportSize = new ViewportSize { Width = 1400, Height = 900 },
        });
        context.SetDefaultTimeout(30_000);
        var page = await context.NewPageAsync();
        // The browser's errors go to the test log (dotnet test --logger "console;verbosity=detailed").
        page.Console += (_, message) =>
        {
            if (message.Type is "error" or "warning")
            {
                Console.WriteLine($"browser {message.Type}: {message.Text}");
            }
        };
        page.PageError += (_, error) => Console.WriteLine($"browser page error: {error}");
        return page;
    }

    /// <summary>Signs in through the sign-in page's button for <paramref name="role"/> and waits for the trace list.</summary>
    public async Task<IPage> SignInAsync(string role)
    {
        var page = await NewPageAsync();
        await page.GotoAsync("/sign-in");
        // The first visit after the stack starts downloads and compiles the app: on a loaded machine that alone can take 30 s.
        await page.GetByRole(AriaRole.Button, new() { Name = $"Sign in as {role}" }).ClickAsync(new() { Timeout = 90_000 });
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Traces", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByText($"dev-{role}")).ToBeVisibleAsync();
        return page;
    }

    /// <summary>
    /// Clicks <paramref name="apply"/> until <paramref name="row"/> shows <paramref name="text"/>: what a test sent reaches
    /// the lists within seconds (through Kafka and the processor), and these pages do not refresh themselves.
    /// </summary>
    public static async Task UntilAsync(ILocator apply, ILocator row, string text)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            await apply.ClickAsync();
            try
            {
                await Assertions.Expect(row).ToContainTextAsync(text, new() { Timeout = 1_500 });
                return;
            }
            catch (PlaywrightException) when (waited.Elapsed < TimeSpan.FromSeconds(30))
            {
                // Not there yet: apply the filters again.
            }
        }
    }

    public static async Task ScreenshotAsync(IPage page, string name)
        => await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });

    /// <summary>Runs axe-core on the page and fails on any serious or critical violation, naming each.</summary>
    public static async Task AssertAccessibleAsync(IPage page, string what)
    {
        var results = await page.RunAxe();
        var severe = results.Violations.Where(v => v.Impact is "serious" or "critical").ToList();
        Assert.True(severe.Count == 0, $"{what}: axe found {severe.Count} serious or critical violation(s):\n" + string.Join("\n",
            severe.Select(v => $"{v.Impact} {v.Id}: {v.Help} at {string.Join(", ", v.Nodes.Take(3).Select(n => n.Target?.ToString()))}")));
    }

    /// <summary>
    /// An LLM agent run as an instrumented application sends it, over OTLP/HTTP (JSON) with the dev API key:
    /// a root span, a tool call that failed, and a chat span with gen_ai.* usage and its messages.
    /// </summary>
    public async Task<(string TraceId, string RootName, string ChatSpanId)> SendGenAiTraceAsync(
        string prompt, string completion, string model, string? sessionId = null, string? userId = null, double? timeToFirstChunkSeconds = null)
    {
        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var rootId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..8]);
        var chatId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..8]);
        var toolId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..8]);
        var rootName = "support.agent " + traceId[..8];
        var start = DateTimeOffset.UtcNow.AddSeconds(-2).ToUnixTimeMilliseconds() * 1_000_000;
        static object Text(string key, string value) => new { key, value = new { stringValue = value } };
        static object Int(string key, long value) => new { key, value = new { intValue = value.ToString(System.Globalization.CultureInfo.InvariantCulture) } };
        static object Double(string key, double value) => new { key, value = new { doubleValue = value } };
        var input = JsonSerializer.Serialize(new[]
        {
            new { role = "system", parts = new[] { new { type = "text", content = "You are a support agent." } } },
            new { role = "user", parts = new[] { new { type = "text", content = prompt } } },
        });
        var rootAttributes = new List<object>();
        if (sessionId is not null)
        {
            rootAttributes.Add(Text("session.id", sessionId));
        }

        if (userId is not null)
        {
            rootAttributes.Add(Text("user.id", userId));
        }

        var chatAttributes = new List<object>
        {
            Text("gen_ai.operation.name", "chat"), Text("gen_ai.provider.name", "openai"), Text("gen_ai.request.model", model),
            Text("gen_ai.response.model", model + "-2024-08-06"), Int("gen_ai.usage.input_tokens", 1200), Int("gen_ai.usage.output_tokens", 85),
        };
        if (timeToFirstChunkSeconds is { } ttft)
        {
            chatAttributes.Add(Double("gen_ai.response.time_to_first_chunk", ttft));
        }

        var output = JsonSerializer.Serialize(new[] { new { role = "assistant", parts = new[] { new { type = "text", content = completion } }, finish_reason = "stop" } });
        var body = new
        {
            resourceSpans = new[]
            {
                new
                {
                    resource = new { attributes = new[] { Text("service.name", "support-bot") } },
                    scopeSpans = new[]
                    {
                        new
                        {
                            scope = new { name = "trulayer.dashboard.tests", version = "1.0" },
                            spans = new object[]
                            {
                                new { traceId, spanId = rootId, name = rootName, kind = 1, startTimeUnixNano = start.ToString(), endTimeUnixNano = (start + 1_500_000_000).ToString(), attributes = rootAttributes, status = new { code = 1 } },
                                new
                                {
                                    traceId, spanId = chatId, parentSpanId = rootId, name = "chat " + model, kind = 3,
                                    startTimeUnixNano = (start + 100_000_000).ToString(), endTimeUnixNano = (start + 1_100_000_000).ToString(),
                                    attributes = chatAttributes.Concat([Text("gen_ai.input.messages", input), Text("gen_ai.output.messages", output)]),
                                    status = new { code = 0 },
                                },
                                new
                                {
                                    traceId, spanId = toolId, parentSpanId = rootId, name = "tool lookup_order", kind = 1,
                                    startTimeUnixNano = (start + 1_150_000_000).ToString(), endTimeUnixNano = (start + 1_400_000_000).ToString(),
                                    attributes = new[] { Text("gen_ai.tool.name", "lookup_order") },
                                    status = new { code = 2, message = "order service timed out" },
                                },
                            },
                        },
                    },
                },
            },
        };
        using var response = await SendAsync(HttpMethod.Post, "/v1/otlp/traces", Dev.ApiKey, JsonContent.Create(body));
        Assert.True(response.IsSuccessStatusCode, $"OTLP export answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (traceId, rootName, chatId);
    }
}
