using Npgsql;
using NpgsqlTypes;

namespace Trulayer.Export.Storage;

/// <summary>Positional parameters of one statement: <see cref="Add{T}"/> returns the placeholder to put in the SQL.</summary>
internal sealed class SqlParameters
{
    private readonly List<NpgsqlParameter> _parameters = [];

    public string Add<T>(T value, NpgsqlDbType type)
    {
        _parameters.Add(new NpgsqlParameter<T> { TypedValue = value, NpgsqlDbType = type });
        return "$" + _parameters.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public void CopyTo(NpgsqlParameterCollection target)
    {
        foreach (var parameter in _parameters)
        {
            target.Add(parameter.Clone());
        }
    }
}
