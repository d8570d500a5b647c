-- Results of `verbatim audit` and of the audits `serve` runs on a schedule (for /metrics).
CREATE TABLE audit_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    finished_at TEXT NOT NULL,
    checked INTEGER NOT NULL,
    failed INTEGER NOT NULL
);
