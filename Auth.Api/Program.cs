var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddAuthServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapServiceOpenApi();
app.MapAuthApi();

app.Run();
