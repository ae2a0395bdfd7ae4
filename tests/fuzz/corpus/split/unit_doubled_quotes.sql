SELECT 'it''s;', E'x'';', x1;
