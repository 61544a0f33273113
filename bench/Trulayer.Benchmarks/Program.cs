using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Trulayer.Benchmarks -- --filter '*'   (or a class name)
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
