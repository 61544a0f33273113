var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddAuthServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapAuthApi();

app.Run();
