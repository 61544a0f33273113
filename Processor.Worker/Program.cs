using Trulayer.Processor.Api;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddProcessorServices();
builder.AddProcessorApi();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapProcessorApi();

app.Run();
