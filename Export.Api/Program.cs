using Trulayer.Export.Analytics;
using Trulayer.Export.Http;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddExportServices();

var app = builder.Build();

app.UseResponseCompression();
app.MapDefaultEndpoints();
app.MapExportApi();
app.MapLlmAnalyticsApi();

app.Run();
