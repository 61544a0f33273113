using System.Runtime.InteropServices;
using Trulayer.AppHost.Model;
using Trulayer.ServiceDefaults.Kafka;

namespace Trulayer.AppHost.Run;

/// <summary>What the machine must have before a run starts; each miss is one line saying what to do.</summary>
internal static class Prerequisites
{
    public static void Check(AppModel model)
    {
        if (model.Resources.OfType<KafkaResource>().Any())
        {
            // Every Kafka client needs librdkafka, the dev broker included.
            if (!NativeLibrary.TryLoad(KafkaNative.LibraryName, out var handle))
            {
                throw new PrerequisiteException(
                    $"{KafkaNative.LibraryName} not found: install it with `apt-get install librdkafka1` (Debian's librdkafka 2.0.2).");
            }

            NativeLibrary.Free(handle);
        }

        if (model.Resources.OfType<PostgresResource>().Any(p => p.ExternalConnectionString is null))
        {
            PostgresCluster.FindBinaries();
            if (Native.IsRoot && !File.Exists("/usr/sbin/runuser") && !File.Exists("/sbin/runuser") && !File.Exists("/usr/bin/runuser"))
            {
                throw new PrerequisiteException("PostgreSQL must not run as root and runuser is missing: install util-linux, or run as another user.");
            }
        }
    }
}
