-- In the extended protocol the Bind and Execute set the statement's time
-- again: such a statement goes as psql sends it.
SELECT now() = statement_timestamp() AS same;
