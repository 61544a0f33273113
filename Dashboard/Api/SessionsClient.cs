using System.Text;

namespace Trulayer.Dashboard.Api;

/// <summary>One row of GET /v1/sessions (and the summary of GET /v1/sessions/{sessionId}).</summary>
public sealed record SessionSummary(
    string SessionId, string ProjectId, DateTimeOffset FirstTime, DateTimeOffset LastTime, int TraceCount,
    IReadOnlyList<string> Users, long? InputTokens, long? OutputTokens, decimal? Cost, bool HasError);

public sealed record SessionList(IReadOnlyList<SessionSummary> Sessions);

/// <summary>One turn of a session: a trace with the input and output of its root (or first LLM call).</summary>
public sealed record SessionTurn(
    string TraceId, string ProjectId, string? Name, DateTimeOffset StartTime, long DurationNanos, int SpanCount,
    long? InputTokens, long? OutputTokens, decimal? Cost, string Status, string? UserId, string? Input, string? Output);

public sealed record SessionConversation(SessionSummary Session, IReadOnlyList<SessionTurn> Traces);

/// <summary>The session list's filters, exactly the parameters GET /v1/sessions takes.</summary>
public sealed record SessionQuery(DateTimeOffset? From = null, DateTimeOffset? To = null, string? UserId = null, int Limit = 50)
{
    public string ToQueryString(string? cursor)
    {
        var query = new StringBuilder($"limit={Limit}");
        QueryString.Add(query, "from", From?.ToString("O"));
        QueryString.Add(query, "to", To?.ToString("O"));
        QueryString.Add(query, "user_id", UserId);
        QueryString.Add(query, "cursor", cursor);
        return query.ToString();
    }
}

/// <summary>/v1/sessions (the list) and /v1/sessions/{sessionId} (one conversation, turn by turn).</summary>
public sealed class SessionsClient(ApiHttp api)
{
    public Task<Page<SessionSummary>> ListAsync(SessionQuery query, string? cursor, CancellationToken cancellationToken = default)
        => api.GetPageAsync<SessionList, SessionSummary>($"v1/sessions?{query.ToQueryString(cursor)}", list => list.Sessions, cancellationToken);

    public Task<SessionConversation> GetAsync(string sessionId, CancellationToken cancellationToken = default)
        => api.GetAsync<SessionConversation>($"v1/sessions/{Uri.EscapeDataString(sessionId)}", cancellationToken);
}
