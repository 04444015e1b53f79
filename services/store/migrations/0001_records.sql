-- Every record is the JSON of its domain type, keyed by kind and id. Records replicate whole,
-- with their version, so the row is the unit of storage and of sync. Columns that queries and
-- sync select on are kept beside the body.
CREATE TABLE records (
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    owner      TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;

CREATE INDEX records_by_owner ON records (owner, kind);

-- The ledger (台账): one row per state change, made here or received from the owner node.
CREATE TABLE ledger (
    id              TEXT    PRIMARY KEY,
    node            TEXT    NOT NULL,
    at              TEXT    NOT NULL,
    actor_name      TEXT    NOT NULL,
    actor_role      TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    subject_kind    TEXT    NOT NULL,
    subject_id      TEXT    NOT NULL,
    subject_version INTEGER NOT NULL,
    body            TEXT    NOT NULL
);

CREATE INDEX ledger_by_time ON ledger (at, id);
CREATE INDEX ledger_by_subject ON ledger (subject_kind, subject_id);

-- Every change this node made, in order: (origin = this node, seq, record, version). Sync sends
-- the rows whose audience is the peer; 'local' rows never leave the node.
CREATE TABLE outbox (
    seq      INTEGER PRIMARY KEY,
    audience TEXT    NOT NULL,
    kind     TEXT    NOT NULL, -- a record kind, or 'ledger_event'
    id       TEXT    NOT NULL,
    version  INTEGER NOT NULL
);

CREATE INDEX outbox_by_audience ON outbox (audience, seq);

-- Per peer: the highest sequence of its changes applied here (dedupe of retried batches), and
-- what this node knows of the link.
CREATE TABLE peers (
    node         TEXT    PRIMARY KEY,
    applied_seq  INTEGER NOT NULL DEFAULT 0,
    last_contact TEXT,
    backlog      INTEGER NOT NULL DEFAULT 0
);

-- Small facts about this database: which node it belongs to, the outbox counter.
CREATE TABLE node_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
