using Trulayer.Ingest.Http;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddIngestServices();
builder.AddServiceOpenApi();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapServiceOpenApi();
app.MapIngestApi();

app.Run();
