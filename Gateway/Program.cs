using Trulayer.Gateway;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayServices();
builder.AddGatewayFrontDoor();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapGateway();

app.Run();
