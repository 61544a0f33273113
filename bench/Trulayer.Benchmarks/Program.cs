using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Trulayer.Benchmarks -- --filter '*'   (or a class name)
BenchmarkSwitcher.FromAssembly(System.Reflection.Assembly.GetExecutingAssembly()).Run(args);
