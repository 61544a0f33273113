var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddGatewayServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapGateway();

app.Run();
