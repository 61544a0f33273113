using Trulayer.Processor.Api;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddProcessorServices();
builder.AddProcessorApi();
builder.AddServiceOpenApi();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapProcessorApi();
app.MapServiceOpenApi();

app.Run();
