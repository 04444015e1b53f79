-- Writes decided lately, by the caller and the client's request id, so that a retry gets the
-- first result instead of being decided again. Node state like sessions: never synced, carried
-- by raft snapshots on the city. `at_ns` orders them for forgetting (nanoseconds since 1970).
CREATE TABLE requests (
    caller TEXT NOT NULL,
    id     TEXT NOT NULL,
    at_ns  INTEGER NOT NULL,
    body   TEXT NOT NULL,
    PRIMARY KEY (caller, id)
) WITHOUT ROWID;

CREATE INDEX requests_by_age ON requests (at_ns);
