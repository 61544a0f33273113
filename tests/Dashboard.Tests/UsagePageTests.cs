using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Trulayer.Dashboard.Tests;

/// <summary>The usage page: the analytics route's buckets as SVG charts and as a table.</summary>
[Collection(DashboardCollection.Name)]
public sealed class UsagePageTests(DashboardStack stack)
{
    [Fact]
    public async Task ModelCalls_OfAModel_AreChartedAndTabulated_GroupedByModel()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var model = "gemini-" + run;
        // One of the two streamed calls reports its time to first token: the page shows it beside the latency.
        await stack.SendGenAiTraceAsync($"Usage check {run}", "Counted.", model, timeToFirstChunkSeconds: 0.4);
        await stack.SendGenAiTraceAsync($"Usage check {run} again", "Counted again.", model);
        var plain = "gemini-plain-" + run;
        await stack.SendGenAiTraceAsync($"Usage check {run} unstreamed", "Counted once.", plain);
        var page = await stack.SignInAsync("member");

        await page.GetByRole(AriaRole.Link, new() { Name = "Usage" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Usage", Level = 1 })).ToBeVisibleAsync();
        await page.GetByLabel("Group by").SelectOptionAsync("model");
        // The span's response model is what the rollup groups by; the filter matches it exactly.
        await page.GetByLabel("Model", new() { Exact = true }).FillAsync(model + "-2024-08-06");
        var totals = page.GetByRole(AriaRole.Row).Filter(new() { HasText = "Whole window" });
        await DashboardStack.UntilAsync(page.GetByRole(AriaRole.Button, new() { Name = "Show usage" }), totals.GetByRole(AriaRole.Cell).Nth(1), "2");
        await Expect(totals).ToContainTextAsync("2,400");
        await Expect(totals).ToContainTextAsync("170");
        await Expect(page.GetByRole(AriaRole.Table).GetByRole(AriaRole.Row).Filter(new() { HasText = model + "-2024-08-06" }).First).ToBeVisibleAsync();

        await Expect(page.GetByRole(AriaRole.Columnheader, new() { Name = "First token p95" })).ToBeVisibleAsync();
        // One value in the sketch: its bin's value, within the stated 2 % of 400 ms.
        await Expect(totals.GetByRole(AriaRole.Cell).Nth(9)).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^(39[2-9]|40[0-8])(\.\d)? ms$"));
        var charts = page.GetByRole(AriaRole.Img);
        await Expect(charts).ToHaveCountAsync(9);
        await Expect(page.GetByRole(AriaRole.Img, new() { Name = "Calls:" }).First).ToHaveAttributeAsync("aria-label", $"Calls: {model}-2024-08-06 up to 2");
        await Expect(page.GetByRole(AriaRole.Img, new() { Name = "Tokens (input + output):" })).ToHaveAttributeAsync("aria-label", $"Tokens (input + output): {model}-2024-08-06 up to 2,570");
        await Expect(page.Locator("figure.chart polyline")).ToHaveCountAsync(9);
        await DashboardStack.ScreenshotAsync(page, "usage");
        await DashboardStack.AssertAccessibleAsync(page, "usage page");

        // A model whose calls carry no time to first token: neither its charts nor its columns.
        await page.GetByLabel("Model", new() { Exact = true }).FillAsync(plain + "-2024-08-06");
        await DashboardStack.UntilAsync(page.GetByRole(AriaRole.Button, new() { Name = "Show usage" }), totals.GetByRole(AriaRole.Cell).Nth(1), "1");
        await Expect(charts).ToHaveCountAsync(7);
        await Expect(page.GetByRole(AriaRole.Columnheader, new() { Name = "First token p95" })).ToHaveCountAsync(0);

        await page.GetByLabel("Model", new() { Exact = true }).FillAsync("no-such-model-" + run);
        await page.GetByRole(AriaRole.Button, new() { Name = "Show usage" }).ClickAsync();
        await Expect(page.GetByText("No model calls in this window match these filters")).ToBeVisibleAsync();
        await page.Context.CloseAsync();
    }
}
