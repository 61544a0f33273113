using System.Text.Json;
using Trulayer.AppHost.Model;

namespace Trulayer.AppHost.Run;

/// <summary>
/// The local stack's secrets: generated at first run, kept in the state folder (mode 600, git-ignored),
/// reused afterwards so the database password and signing keys stay stable across restarts.
/// </summary>
internal sealed class ParameterStore
{
    private readonly string _path;
    private readonly Dictionary<string, string> _values;

    private ParameterStore(string path, Dictionary<string, string> values)
    {
        _path = path;
        _values = values;
    }

    public static ParameterStore Open(string stateDirectory)
    {
        var path = Path.Combine(stateDirectory, "secrets.json");
        var values = File.Exists(path)
            ? JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path)) ?? []
            : [];
        return new ParameterStore(path, values);
    }

    public string Get(ParameterResource parameter)
    {
        lock (_values)
        {
            if (!_values.TryGetValue(parameter.Name, out var value))
            {
                value = parameter.Generate();
                _values[parameter.Name] = value;
                Save();
            }

            return value;
        }
    }

    private void Save()
    {
        File.WriteAllText(_path, JsonSerializer.Serialize(_values, new JsonSerializerOptions { WriteIndented = true }));
        File.SetUnixFileMode(_path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
