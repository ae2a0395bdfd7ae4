  -- lead

   SELECT x1; /* c */ SELECT x2 ; SELECT
x3;
