-- pgqfs: priority=1SELECT 1;
-- pgqfs: x=1
