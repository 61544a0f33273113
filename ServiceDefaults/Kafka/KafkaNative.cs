using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Trulayer.ServiceDefaults.Kafka;

/// <summary>Points Confluent.Kafka at Debian's librdkafka.so.1.</summary>
/// <remarks>
/// Confluent.Kafka imports "librdkafka", which resolves to librdkafka.so, a name only the -dev package
/// ships. Library.Load(path) would avoid the import but needs libdl.so, which a plain machine lacks, so
/// the import itself is redirected, once per process, before the first client is built.
/// </remarks>
public static class KafkaNative
{
    /// <summary>The soname of the runtime package (Debian's librdkafka1).</summary>
    public const string LibraryName = "librdkafka.so.1";

    private static readonly Lazy<bool> Registered = new(Register);

    /// <summary>Registers the resolver; safe to call any number of times from any thread.</summary>
    public static void EnsureRegistered() => _ = Registered.Value;

    /// <summary>The librdkafka version in use, e.g. "2.0.2".</summary>
    public static string Version
    {
        get
        {
            EnsureRegistered();
            return Library.VersionString;
        }
    }

    private static bool Register()
    {
        NativeLibrary.SetDllImportResolver(typeof(ProducerConfig).Assembly, Resolve);
        return true;
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (!name.Contains("rdkafka", StringComparison.Ordinal))
        {
            return IntPtr.Zero;
        }

        if (NativeLibrary.TryLoad(LibraryName, assembly, searchPath, out var handle))
        {
            return handle;
        }

        throw new DllNotFoundException(
            $"{LibraryName} was not found. Install it with: apt-get install librdkafka1");
    }
}
