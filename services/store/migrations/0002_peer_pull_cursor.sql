-- What a peer has applied of this node's changes (its pull cursor, as it reported it), so the
-- city can show each county's lag.
ALTER TABLE peers ADD COLUMN pulled_seq INTEGER NOT NULL DEFAULT 0;
