-- Recomputes one organization's audit chain in PostgreSQL alone, as GET /v1/audit-log/verify does:
--   psql "$DATABASE" -v org=<organization id> -f Auth.Api/Audit/verify-chain.sql
-- Answers the first entry whose sequence number, link to the entry before, or hash does not hold, with
-- the reason; no row when the whole chain verifies. The encoding is the README's ("Audit log").
WITH entries AS (
    SELECT a.*,
           lag(a.sequence) OVER (ORDER BY a.sequence) AS prior_sequence,
           lag(a.hash) OVER (ORDER BY a.sequence) AS prior_hash
    FROM auth.audit_log a
    WHERE a.organization_id = :'org'::uuid
),
checked AS (
    SELECT e.sequence, e.id,
           e.sequence <> coalesce(e.prior_sequence, 0) + 1 AS gap,
           e.previous_hash <> coalesce(e.prior_hash, decode(repeat('00', 32), 'hex')) AS unlinked,
           e.hash <> sha256((
               SELECT string_agg(
                          CASE WHEN f IS NULL THEN '\xffffffff'::bytea
                               ELSE int4send(octet_length(convert_to(f, 'UTF8'))) || convert_to(f, 'UTF8') END,
                          ''::bytea ORDER BY n)
               FROM unnest(ARRAY[
                   'trulayer.audit.v1', e.organization_id::text, e.sequence::text, e.id::text,
                   ((extract(epoch FROM e.occurred_at) * 1000000)::bigint)::text,
                   e.source, e.phase, e.actor_kind, e.actor_id, e.actor_role, e.project_id::text,
                   e.action, e.method, e.route, e.target_id, e.detail, e.status::text,
                   e.correlation_id, e.client_address, encode(e.previous_hash, 'hex')]) WITH ORDINALITY AS field (f, n))) AS altered,
           coalesce(e.prior_sequence, 0) + 1 AS expected
    FROM entries e
)
SELECT sequence, id,
       CASE WHEN gap THEN 'entry ' || expected || ' is missing'
            WHEN unlinked THEN 'its previous hash is not the hash of the entry before'
            ELSE 'its hash does not match its content' END AS reason
FROM checked
WHERE gap OR unlinked OR altered
ORDER BY sequence
LIMIT 1;
