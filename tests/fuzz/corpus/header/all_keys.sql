-- pgqfs: priority=-5 timeout=90m retries=2 retry_delay=250ms
-- a note

-- pgqfs: after=3,1 not_before=+2h single_transaction=on
SELECT 1;
-- pgqfs: priority=1
