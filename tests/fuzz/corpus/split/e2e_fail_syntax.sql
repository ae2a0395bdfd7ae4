-- A syntax error after a successful statement: its rows stay in the
-- result, the error carries a LINE excerpt and caret.
SELECT 'before the error' AS status;
SELEC 2 AS typo;
SELECT 'never runs' AS status;
