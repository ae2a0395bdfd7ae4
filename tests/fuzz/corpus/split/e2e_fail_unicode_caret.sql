-- The error position is counted in characters, not bytes.
SELECT 'café 日本 🐘' AS greeting,
       'x' || corpus_no_such_column AS broken;
