-- The hourly usage rollups keep their latency sketches as bytea instead of bigint[] (README.md, "Usage and
-- cost over time"): the same packed entries (bin * 2^40 + count, ascending), each as 8 bytes big-endian.
-- PostgreSQL sends a bytea as one copy; an array it sends element by element, which was most of the
-- database's time in a 30-day hourly query (README.md, "Performance: queries").
--
-- The per-minute rollup keeps bigint[]: its rows hold one or two bins (one user's calls of one minute),
-- so an array costs it little, and converting its millions of rows (one per call, about) would hold
-- the processor's start for minutes.
--
-- Plain tables on both layouts (native partitions or TimescaleDB), so the same statements serve both.

-- A bigint[] sketch as bytea: what the conversion below and the processor's upsert write.
CREATE FUNCTION telemetry.latency_sketch_bytes(sketch bigint[]) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(int8send(x), ''::bytea ORDER BY x), ''::bytea) FROM unnest(sketch) AS x
$$;

-- Two bytea sketches merged as the bigint[] ones are (migration 0007): counts added bin by bin, bins
-- ascending, a count saturating at 2^40 - 1.
CREATE FUNCTION telemetry.latency_sketch_merge(a bytea, b bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(int8send((bin << 40) | least(n, 1099511627775)::bigint), ''::bytea ORDER BY bin), ''::bytea)
    FROM (SELECT x >> 40 AS bin, sum(x & 1099511627775) AS n
          FROM (SELECT ('x' || encode(substr(s, i, 8), 'hex'))::bit(64)::bigint AS x
                FROM (VALUES (a), (b)) AS v(s), generate_series(1, length(s), 8) AS i) entries
          GROUP BY 1) bins
$$;

ALTER TABLE telemetry.llm_usage_hour ALTER COLUMN latency TYPE bytea USING telemetry.latency_sketch_bytes(latency);
ALTER TABLE telemetry.llm_usage_hour_model ALTER COLUMN latency TYPE bytea USING telemetry.latency_sketch_bytes(latency);
