-- pgqfs: cron="*/5 1-5 1,15 JAN-MAR mon-fri" tz=UTC

SELECT 1;
