using Trulayer.Export.Analytics;
using Trulayer.Export.Http;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddExportServices();
builder.AddServiceOpenApi();

var app = builder.Build();

app.UseResponseCompression();
app.MapDefaultEndpoints();
app.MapServiceOpenApi();
app.MapExportApi();
app.MapLlmAnalyticsApi();

app.Run();
