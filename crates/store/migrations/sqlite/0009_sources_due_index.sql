-- The scheduler asks several times a second which polled sources are due; with thousands of
-- sources that must be an index lookup, not a scan.
CREATE INDEX sources_due ON sources (next_due) WHERE kind = 'poll' AND paused = 0;
