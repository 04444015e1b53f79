-- Each event's place in its chain (the events of one node for one audience, hash-linked), so
-- the chain heads load and `ledger verify` walks a chain in order. NULL for events made before
-- chains existed.
ALTER TABLE ledger ADD COLUMN chain_n INTEGER;

CREATE INDEX ledger_by_chain ON ledger (node, audience, chain_n);
