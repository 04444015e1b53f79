-- The raft log of one city replica. Its own file, with synchronous=FULL: an append is
-- acknowledged only after it is on disk.
CREATE TABLE log (
    idx   INTEGER PRIMARY KEY,
    entry TEXT NOT NULL -- the openraft entry as JSON
);

-- vote, last_purged, replica_id.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
