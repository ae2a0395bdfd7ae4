SELECT x1;
SELECT
  x2

-- end

