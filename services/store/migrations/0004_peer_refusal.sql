-- The last change a peer's link refused and why (a county: what the city refused of its push;
-- the city: what it refused of a county's), shown in status until a batch goes through.
ALTER TABLE peers ADD COLUMN refused TEXT;
ALTER TABLE peers ADD COLUMN refused_at TEXT;
