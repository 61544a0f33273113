using Trulayer.Gateway;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayServices();
builder.AddGatewayFrontDoor();
builder.AddDashboardFiles();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapGateway();
app.MapDashboardFiles();

app.Run();
