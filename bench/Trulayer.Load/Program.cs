using System.CommandLine;
using Trulayer.Load;

// dotnet run -c Release --project bench/Trulayer.Load -- run --batch genai --rate 20000 --duration 60
return await LoadCommands.Create().Parse(args).InvokeAsync();
