using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Trulayer.Dashboard.Tests;

/// <summary>The span search page: text search in prompts and completions, filters, links to the trace and the span.</summary>
[Collection(DashboardCollection.Name)]
public sealed class LlmCallsPageTests(DashboardStack stack)
{
    [Fact]
    public async Task LlmCall_FoundByTextInItsPrompt_AndFilteredByModel_LinksToItsSpan()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var model = "claude-" + run;
        var prompt = $"Summarize ticket {run} for the on-call engineer.";
        var (traceId, _, chatSpanId) = await stack.SendGenAiTraceAsync(prompt, "The disk filled up; rotated the logs.", model);
        var page = await stack.SignInAsync("viewer");

        await page.GetByRole(AriaRole.Link, new() { Name = "LLM calls" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "LLM calls", Level = 1 })).ToBeVisibleAsync();
        await page.GetByLabel("Text in prompt or completion").FillAsync($"TICKET {run}");
        var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = "chat " + model });
        await DashboardStack.UntilAsync(page.GetByRole(AriaRole.Button, new() { Name = "Search" }), row, prompt);
        await Expect(page.GetByRole(AriaRole.Row)).ToHaveCountAsync(2);
        await Expect(row).ToContainTextAsync(model + "-2024-08-06");
        await Expect(row).ToContainTextAsync("openai");
        await Expect(row).ToContainTextAsync("support-bot");
        await Expect(row).ToContainTextAsync("1,200 / 85");
        await Expect(row.GetByRole(AriaRole.Link, new() { Name = "trace " + traceId[..8] })).ToHaveAttributeAsync("href", $"traces/{traceId}");
        await DashboardStack.ScreenshotAsync(page, "llm-calls");
        await DashboardStack.AssertAccessibleAsync(page, "LLM calls page");

        // Another model's calls with the same text: none.
        await page.GetByLabel("Model").FillAsync("no-such-model-" + run);
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(page.GetByText("No LLM calls match these filters")).ToBeVisibleAsync();
        await page.GetByLabel("Model").FillAsync(model);
        await page.GetByLabel("Provider").FillAsync("openai");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Expect(row).ToBeVisibleAsync();

        await row.GetByRole(AriaRole.Link, new() { Name = "chat " + model }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"/traces/{traceId}/spans/{chatSpanId}$"));
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "LLM call" })).ToContainTextAsync(prompt);
        await page.Context.CloseAsync();
    }
}
