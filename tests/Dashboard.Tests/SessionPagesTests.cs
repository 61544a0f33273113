using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Trulayer.Dashboard.Tests;

/// <summary>The sessions list and one session as a conversation, with data this test sent over OTLP.</summary>
[Collection(DashboardCollection.Name)]
public sealed class SessionPagesTests(DashboardStack stack)
{
    [Fact]
    public async Task Session_OfTwoTurns_IsListedForItsUser_AndReadsAsAConversationTurnByTurn()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var sessionId = "chat-" + run;
        var user = "ada-" + run;
        var model = "gpt-4o-" + run;
        var first = await stack.SendGenAiTraceAsync($"Where is order {run}?", "It shipped yesterday.", model, sessionId, user);
        var second = await stack.SendGenAiTraceAsync($"When does order {run} arrive?", "On Tuesday.", model, sessionId, user);
        var page = await stack.SignInAsync("viewer");

        await page.GetByRole(AriaRole.Link, new() { Name = "Sessions" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sessions", Level = 1 })).ToBeVisibleAsync();
        await page.GetByLabel("User").FillAsync(user);
        // The processor writes the session within seconds: apply the filter until the row shows both turns.
        var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = sessionId });
        await DashboardStack.UntilAsync(page.GetByRole(AriaRole.Button, new() { Name = "Apply filters" }), row.GetByRole(AriaRole.Cell).Nth(4), "2");
        await Expect(row).ToContainTextAsync(user);
        await Expect(page.GetByRole(AriaRole.Row)).ToHaveCountAsync(2);
        await DashboardStack.ScreenshotAsync(page, "sessions");
        await DashboardStack.AssertAccessibleAsync(page, "session list");

        await row.GetByRole(AriaRole.Link, new() { Name = sessionId }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"/sessions/{sessionId}$"));
        var turns = page.GetByRole(AriaRole.List, new() { Name = "Turns" });
        await Expect(turns.Locator("> li")).ToHaveCountAsync(2);
        await Expect(turns.GetByRole(AriaRole.List, new() { Name = "Turn 1 input" })).ToContainTextAsync($"Where is order {run}?");
        await Expect(turns.GetByRole(AriaRole.List, new() { Name = "Turn 1 output" })).ToContainTextAsync("It shipped yesterday.");
        await Expect(turns.GetByRole(AriaRole.List, new() { Name = "Turn 2 input" })).ToContainTextAsync($"When does order {run} arrive?");
        await Expect(turns.GetByRole(AriaRole.List, new() { Name = "Turn 2 output" })).ToContainTextAsync("On Tuesday.");
        await Expect(turns.Locator("> li").Nth(0)).ToContainTextAsync("1,200 in / 85 out");
        await DashboardStack.ScreenshotAsync(page, "session");
        await DashboardStack.AssertAccessibleAsync(page, "session page");

        await turns.GetByRole(AriaRole.Link, new() { Name = second.RootName }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"/traces/{second.TraceId}$"));
        await Expect(page.GetByRole(AriaRole.List, new() { Name = "Spans" }).GetByRole(AriaRole.Button)).ToHaveCountAsync(3);
        Assert.NotEqual(first.TraceId, second.TraceId);
        await page.Context.CloseAsync();
    }
}
