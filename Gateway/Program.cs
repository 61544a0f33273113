using Trulayer.Gateway;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayServices();
builder.AddGatewayFrontDoor();
builder.AddDashboardFiles();
builder.AddPublicApiReference();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapPublicApiReference();
app.MapGateway();
app.MapDashboardFiles();

app.Run();
