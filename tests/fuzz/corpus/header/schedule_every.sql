-- pgqfs: every=1h tz=Europe/Paris group=statements
-- pgqfs: not_before=2026-12-01T04:30:00+01:30
SELECT 1;
