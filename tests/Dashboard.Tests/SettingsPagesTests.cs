using Microsoft.Playwright;
using Npgsql;
using static Microsoft.Playwright.Assertions;

namespace Trulayer.Dashboard.Tests;

/// <summary>Settings beyond keys and members: the organization's model prices, each control as the role allows.</summary>
[Collection(DashboardCollection.Name)]
public sealed class SettingsPagesTests(DashboardStack stack)
{
    [Fact]
    public async Task ModelPrice_AddedEditedAndDeletedByAMember_WhileAViewerOnlyReadsIt()
    {
        var model = "acme-" + Guid.NewGuid().ToString("N")[..8];
        var page = await stack.SignInAsync("member");
        await page.GetByRole(AriaRole.Link, new() { Name = "Settings" }).ClickAsync();
        var prices = page.GetByRole(AriaRole.Region, new() { Name = "Model prices" });
        var form = prices.GetByRole(AriaRole.Form, new() { Name = "Add or replace a model price" });

        await form.GetByLabel("Model").FillAsync(model);
        await form.GetByLabel("Input").FillAsync("2.5");
        await form.GetByLabel("Output", new() { Exact = true }).FillAsync("10");
        await form.GetByRole(AriaRole.Button, new() { Name = "Save price" }).ClickAsync();
        var row = prices.GetByRole(AriaRole.Row).Filter(new() { HasText = model });
        await Expect(row).ToContainTextAsync("$2.5");
        await Expect(row).ToContainTextAsync("$10");
        await Expect(row).ToContainTextAsync("by dev-member");
        await DashboardStack.ScreenshotAsync(page, "settings-prices-member");
        await DashboardStack.AssertAccessibleAsync(page, "settings page with a model price (member)");

        // A viewer reads the organization's price, with no control to change it.
        var viewer = await stack.SignInAsync("viewer");
        await viewer.GetByRole(AriaRole.Link, new() { Name = "Settings" }).ClickAsync();
        var viewerPrices = viewer.GetByRole(AriaRole.Region, new() { Name = "Model prices" });
        await Expect(viewerPrices.GetByRole(AriaRole.Row).Filter(new() { HasText = model })).ToContainTextAsync("$10");
        await Expect(viewerPrices.GetByRole(AriaRole.Button)).ToHaveCountAsync(0);
        await Expect(viewerPrices.GetByRole(AriaRole.Textbox)).ToHaveCountAsync(0);
        await Expect(viewerPrices.GetByRole(AriaRole.Spinbutton)).ToHaveCountAsync(0);
        await viewer.Context.CloseAsync();

        await row.GetByRole(AriaRole.Button, new() { Name = $"Edit price of {model}" }).ClickAsync();
        await Expect(form.GetByLabel("Model")).ToHaveValueAsync(model);
        await form.GetByLabel("Output", new() { Exact = true }).FillAsync("12");
        await form.GetByRole(AriaRole.Button, new() { Name = "Save price" }).ClickAsync();
        await Expect(row).ToContainTextAsync("$12");

        await row.GetByRole(AriaRole.Button, new() { Name = $"Delete price of {model}" }).ClickAsync();
        await Expect(row).ToHaveCountAsync(0);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task DeadLetter_RefusedByTheDatabase_IsShownToAViewer_AndReplayedByTheOwnerOnceFixed()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var constraint = $"dashboard_refuse_{run}";
        var model = "refused-" + run;
        await using var db = NpgsqlDataSource.Create(stack.App.GetConnectionString("postgres"));
        // PostgreSQL refuses this trace's rows while the constraint stands (the chat span is named "chat <model>"):
        // the processor keeps the record as a dead letter; once the constraint is gone, a replay stores it.
        await ExecuteAsync(db, $"ALTER TABLE telemetry.spans ADD CONSTRAINT {constraint} CHECK (name <> 'chat {model}')");
        try
        {
            await stack.SendGenAiTraceAsync("Refuse me " + run, "Refused.", model);
            var viewer = await stack.SignInAsync("viewer");
            await viewer.GetByRole(AriaRole.Link, new() { Name = "Settings" }).ClickAsync();
            var viewerDlq = viewer.GetByRole(AriaRole.Region, new() { Name = "Dead letters" });
            var viewerRow = viewerDlq.GetByRole(AriaRole.Row).Filter(new() { HasText = constraint });
            await DashboardStack.UntilAsync(viewer.GetByRole(AriaRole.Link, new() { Name = "Settings" }), viewerRow, "open");
            await Expect(viewerRow.GetByRole(AriaRole.Button, new() { NameRegex = new System.Text.RegularExpressions.Regex("^(Replay|Discard)") })).ToHaveCountAsync(0);
            await viewerRow.GetByRole(AriaRole.Button, new() { NameRegex = new System.Text.RegularExpressions.Regex("^Show dead letter") }).ClickAsync();
            var shown = viewerDlq.GetByRole(AriaRole.Region, new() { NameRegex = new System.Text.RegularExpressions.Regex("^Dead letter ") });
            await Expect(shown.GetByLabel("The record as OTLP/JSON")).ToContainTextAsync("chat " + model);
            await DashboardStack.ScreenshotAsync(viewer, "settings-dead-letters-viewer");
            await DashboardStack.AssertAccessibleAsync(viewer, "settings page with a dead letter (viewer)");
            await viewer.Context.CloseAsync();
        }
        finally
        {
            await ExecuteAsync(db, $"ALTER TABLE telemetry.spans DROP CONSTRAINT IF EXISTS {constraint}");
        }

        var owner = await stack.SignInAsync("owner");
        await owner.GetByRole(AriaRole.Link, new() { Name = "Settings" }).ClickAsync();
        var row = owner.GetByRole(AriaRole.Region, new() { Name = "Dead letters" }).GetByRole(AriaRole.Row).Filter(new() { HasText = constraint });
        await row.GetByRole(AriaRole.Button, new() { NameRegex = new System.Text.RegularExpressions.Regex("^Replay dead letter") }).ClickAsync();
        await Expect(row).ToContainTextAsync("replayed");
        await Expect(row).ToContainTextAsync("stored: 3 spans new");
        await Expect(row.GetByRole(AriaRole.Button, new() { NameRegex = new System.Text.RegularExpressions.Regex("^(Replay|Discard)") })).ToHaveCountAsync(0);
        await DashboardStack.ScreenshotAsync(owner, "settings-dead-letters-owner");
        await owner.Context.CloseAsync();
    }

    private static async Task ExecuteAsync(NpgsqlDataSource db, string sql)
    {
        await using var command = db.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
