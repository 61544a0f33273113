using Microsoft.Playwright;
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
}
