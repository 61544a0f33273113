using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Trulayer.Dashboard.Tests;

/// <summary>
/// The dashboard in a real browser against the real stack, driven as a person uses it: find things by
/// their role and visible name, click, type, read. Every page is also checked with axe-core.
/// </summary>
[Collection(DashboardCollection.Name)]
public sealed class DashboardTests(DashboardStack stack)
{
    [Theory]
    [InlineData("owner")]
    [InlineData("member")]
    [InlineData("viewer")]
    public async Task SignIn_AsEachSeededRole_ShowsWhoIsSignedIn(string role)
    {
        var page = await stack.SignInAsync(role);

        await Expect(page.GetByRole(AriaRole.Banner)).ToContainTextAsync($"dev-{role} · {role}");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task SignInPage_WithoutASession_IsWhereEveryPageLeads_AndIsAccessible()
    {
        var page = await stack.NewPageAsync();
        await page.GotoAsync("/settings");

        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/sign-in\\?return=%2Fsettings$"));
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Sign in as viewer" })).ToBeVisibleAsync();
        await DashboardStack.ScreenshotAsync(page, "sign-in");
        await DashboardStack.AssertAccessibleAsync(page, "sign-in page");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task GenAiTrace_SentOverOtlp_IsListedWithinSeconds_AndItsWaterfallShowsThePromptAndCompletion()
    {
        var page = await stack.SignInAsync("member");
        var prompt = "Where is my order " + Guid.NewGuid().ToString("N")[..6] + "?";
        var completion = "Your order shipped yesterday and arrives on Tuesday.";
        var model = "gpt-4o-" + Guid.NewGuid().ToString("N")[..6];
        var (traceId, rootName, chatSpanId) = await stack.SendGenAiTraceAsync(prompt, completion, model, timeToFirstChunkSeconds: 0.35);

        // The list refreshes itself: the trace shows up without a reload.
        var sent = Stopwatch.StartNew();
        var link = page.GetByRole(AriaRole.Link, new() { Name = rootName });
        await Expect(link).ToBeVisibleAsync(new() { Timeout = 30_000 });
        var listed = sent.Elapsed;
        await Expect(page.GetByRole(AriaRole.Row).Filter(new() { HasText = rootName })).ToContainTextAsync(model);
        await DashboardStack.ScreenshotAsync(page, "traces");
        await DashboardStack.AssertAccessibleAsync(page, "trace list");

        // Filtered by a model no other trace of this test run has, the list keeps only this trace.
        await page.GetByLabel("Model").FillAsync(model);
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply filters" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Row)).ToHaveCountAsync(2);
        await Expect(page.GetByRole(AriaRole.Row).Nth(1)).ToContainTextAsync(rootName);

        await link.ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"/traces/{traceId}$"));
        var waterfall = page.GetByRole(AriaRole.List, new() { Name = "Spans" });
        await Expect(waterfall.GetByRole(AriaRole.Button)).ToHaveCountAsync(3);
        await Expect(waterfall.GetByRole(AriaRole.Button, new() { Name = "tool lookup_order" })).ToContainTextAsync("error");

        await waterfall.GetByRole(AriaRole.Button, new() { Name = "chat " + model }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"/traces/{traceId}/spans/{chatSpanId}$"));
        var llm = page.GetByRole(AriaRole.Region, new() { Name = "LLM call" });
        await Expect(llm).ToContainTextAsync("openai");
        await Expect(llm).ToContainTextAsync(model + "-2024-08-06");
        await Expect(llm).ToContainTextAsync("1,200");
        // Every token kind, reported or not, and the cost with its source as GET /v1/traces/{traceId}/spans gives them.
        foreach (var kind in new[] { "input tokens", "output tokens", "cache read tokens", "cache creation tokens", "reasoning tokens" })
        {
            await Expect(llm).ToContainTextAsync(kind);
        }

        await Expect(llm).ToContainTextAsync("not reported");
        await Expect(llm.Locator("dt", new() { HasText = "Time to first token" }).Locator("xpath=following-sibling::dd[1]")).ToHaveTextAsync("350 ms");
        var (cost, costSource) = await CostOfAsync(traceId, chatSpanId);
        await Expect(llm).ToContainTextAsync(costSource switch
        {
            "reported" => "reported by the span",
            "computed" => "computed from the model's price",
            _ => "none: the span reports no cost",
        });
        if (cost is { } value)
        {
            await Expect(llm).ToContainTextAsync("$" + value.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture));
        }

        await Expect(llm.GetByRole(AriaRole.List, new() { Name = "Input messages" })).ToContainTextAsync(prompt);
        await Expect(llm.GetByRole(AriaRole.List, new() { Name = "Output messages" })).ToContainTextAsync(completion);
        await DashboardStack.ScreenshotAsync(page, "trace");
        await DashboardStack.AssertAccessibleAsync(page, "trace page");

        // The span's URL is a deep link: opened fresh, it shows the same span.
        var deepLink = page.Url;
        var fresh = await page.Context.NewPageAsync();
        await fresh.GotoAsync(deepLink);
        await Expect(fresh.GetByRole(AriaRole.Region, new() { Name = "LLM call" })).ToContainTextAsync(completion);
        await page.Context.CloseAsync();
        Console.WriteLine($"trace listed {listed.TotalSeconds:0.0} s after the OTLP export answered");
    }

    [Fact]
    public async Task ApiKey_CreatedByTheOwner_ShowsItsSecretOnce_AndRevokedStopsWorking()
    {
        var page = await stack.SignInAsync("owner");
        await page.GetByRole(AriaRole.Link, new() { Name = "Settings" }).ClickAsync();
        var keys = page.GetByRole(AriaRole.Region, new() { Name = "API keys" });
        var name = "browser key " + Guid.NewGuid().ToString("N")[..6];

        await keys.GetByLabel("Key name").FillAsync(name);
        await keys.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        var secret = keys.GetByLabel("New API key");
        await Expect(secret).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^tl_[A-Za-z0-9]{49}$"));
        var key = await secret.TextContentAsync();
        await Expect(keys.GetByRole(AriaRole.Button, new() { Name = "Copy key" })).ToBeVisibleAsync();
        await Expect(keys.GetByRole(AriaRole.Row).Filter(new() { HasText = name })).ToContainTextAsync("active");
        Assert.Equal(HttpStatusCode.OK, await SendEmptyTraceAsync(key!));
        await DashboardStack.ScreenshotAsync(page, "settings-owner");
        await DashboardStack.AssertAccessibleAsync(page, "settings page (owner)");

        await keys.GetByRole(AriaRole.Button, new() { Name = $"Revoke key {name}" }).ClickAsync();
        await Expect(keys.GetByRole(AriaRole.Row).Filter(new() { HasText = name })).ToContainTextAsync("revoked");
        // The gateway keeps a verdict up to its cache time (README, "API keys"): poll until the key is refused.
        var refused = Stopwatch.StartNew();
        while (await SendEmptyTraceAsync(key!) != HttpStatusCode.Unauthorized)
        {
            Assert.True(refused.Elapsed < TimeSpan.FromSeconds(45), "the revoked key still works after the gateway's cache time");
            await Task.Delay(500);
        }

        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Viewer_SeesNoControlItCannotUse()
    {
        var page = await stack.SignInAsync("viewer");
        await page.GetByRole(AriaRole.Link, new() { Name = "Settings" }).ClickAsync();
        var keys = page.GetByRole(AriaRole.Region, new() { Name = "API keys" });
        var members = page.GetByRole(AriaRole.Region, new() { Name = "Members and roles" });
        await Expect(keys.GetByRole(AriaRole.Table)).ToContainTextAsync("dev key");
        await Expect(members.GetByRole(AriaRole.Table)).ToContainTextAsync("dev-owner");
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Audit log" })).ToBeVisibleAsync();

        await Expect(keys.GetByRole(AriaRole.Button)).ToHaveCountAsync(0);
        await Expect(keys.GetByRole(AriaRole.Textbox)).ToHaveCountAsync(0);
        await Expect(members.GetByRole(AriaRole.Button)).ToHaveCountAsync(0);
        await Expect(members.GetByRole(AriaRole.Combobox)).ToHaveCountAsync(0);
        await DashboardStack.ScreenshotAsync(page, "settings-viewer");
        await DashboardStack.AssertAccessibleAsync(page, "settings page (viewer)");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task UnknownApiPath_StaysAJson404_WhilePagesFallBackToTheApp()
    {
        using var api = await stack.SendAsync(HttpMethod.Get, "/v1/no-such-route", null);
        using var page = await stack.SendAsync(HttpMethod.Get, "/traces/0123/spans/4567", null);

        Assert.Equal(HttpStatusCode.NotFound, api.StatusCode);
        Assert.Equal("application/json", api.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("_framework/blazor.webassembly.", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>The cost and its source the API gives a span (what the LLM panel must show).</summary>
    private async Task<(decimal? Cost, string? Source)> CostOfAsync(string traceId, string spanId)
    {
        using var response = await stack.SendAsync(HttpMethod.Get, $"/v1/traces/{traceId}/spans", stack.Dev.Sessions!["viewer"]);
        var body = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        var span = body.GetProperty("spans").EnumerateArray().Single(s => s.GetProperty("spanId").GetString() == spanId);
        var cost = span.GetProperty("cost");
        return (cost.ValueKind == System.Text.Json.JsonValueKind.Number ? cost.GetDecimal() : null, span.GetProperty("costSource").GetString());
    }

    private async Task<HttpStatusCode> SendEmptyTraceAsync(string apiKey)
    {
        using var response = await stack.SendAsync(HttpMethod.Post, "/v1/otlp/traces", apiKey, JsonContent.Create(new { resourceSpans = Array.Empty<object>() }));
        return response.StatusCode;
    }
}
