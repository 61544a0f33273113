var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddProcessorServices();
builder.AddServiceOpenApi();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapServiceOpenApi();

app.Run();
