-- Sign-in sessions (登录会话), keyed by the SHA-256 of their token. Not records: they never
-- leave the node (on the city they are replicated by raft with the rest of the state).
CREATE TABLE sessions (
    key     TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    body    TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_by_account ON sessions (account);

-- Who acted, by account, and where an event travels, so the ledger filters by person and by
-- the county it concerns without reading every body.
ALTER TABLE ledger ADD COLUMN actor_account TEXT;
ALTER TABLE ledger ADD COLUMN audience TEXT NOT NULL DEFAULT 'local';
UPDATE ledger SET audience = CASE
    WHEN json_type(body, '$.audience') = 'text' THEN json_extract(body, '$.audience')
    WHEN json_extract(body, '$.audience.county') IS NOT NULL THEN 'county/' || json_extract(body, '$.audience.county')
    ELSE 'local' END;
UPDATE ledger SET audience = 'all' WHERE audience = 'all_counties';

CREATE INDEX ledger_by_actor ON ledger (actor_account, at);
CREATE INDEX ledger_by_audience ON ledger (audience, at);
