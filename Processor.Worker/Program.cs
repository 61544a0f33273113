var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddProcessorServices();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
