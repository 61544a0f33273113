namespace Trulayer.Dashboard.Api;

/// <summary>
/// Keeps a page's answer to the newest of its overlapping loads. A person who applies filters twice, pages while an
/// auto-refresh is out, or opens a second trace before the first has come, has two requests in flight, and their answers
/// can arrive in either order: the older one must never overwrite the newer. Each load cancels the one before it (the
/// browser aborts its request) and only the newest one's result or error reaches the page.
/// </summary>
public sealed class NewestLoad
{
    private CancellationTokenSource? _newest;

    /// <summary>Whether a load is in flight.</summary>
    public bool Loading => _newest is not null;

    /// <summary>
    /// Runs <paramref name="load"/> as the newest load and hands its result to <paramref name="loaded"/>, or its
    /// refusal to <paramref name="failed"/>, unless a newer load started meanwhile: then neither is called.
    /// </summary>
    public async Task RunAsync<T>(Func<CancellationToken, Task<T>> load, Action<T> loaded, Action<ApiException> failed)
    {
        _newest?.Cancel();
        using var mine = new CancellationTokenSource();
        _newest = mine;
        try
        {
            var result = await load(mine.Token);
            if (mine == _newest)
            {
                loaded(result);
            }
        }
        catch (OperationCanceledException) when (mine.IsCancellationRequested)
        {
            // Superseded: the newer load answers for the page.
        }
        catch (ApiException e)
        {
            if (mine == _newest)
            {
                failed(e);
            }
        }
        finally
        {
            if (mine == _newest)
            {
                _newest = null;
            }
        }
    }

    /// <summary>Cancels the load in flight, if any: the page is going away.</summary>
    public void Cancel()
    {
        _newest?.Cancel();
        _newest = null;
    }
}
