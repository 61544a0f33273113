namespace Trulayer.AppHost.Run;

/// <summary>Something the machine lacks; the message is one line that says what to install or change.</summary>
public sealed class PrerequisiteException(string message) : Exception(message);
