using Microsoft.JSInterop;

namespace Trulayer.Dashboard;

/// <summary>
/// Named points in the browser's performance timeline (<c>performance.mark</c>), so the time a page takes can be
/// split into its parts (runtime start, API call, reading the body, rendering) from the browser's own clock: the
/// browser tests record them (tests/Dashboard.Tests, SpeedTests), and a person sees them in the devtools.
/// </summary>
public sealed class PerformanceMarks(IJSRuntime js)
{
    public void Mark(string name)
    {
        if (js is IJSInProcessRuntime inProcess)
        {
            inProcess.InvokeVoid("performance.mark", name);
        }
    }
}
