var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddExportServices();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
