-- Data-modifying statements with RETURNING print rows; without it, nothing.
CREATE TEMP TABLE corpus_items (
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku text UNIQUE NOT NULL,
    qty int NOT NULL DEFAULT 0
);
INSERT INTO corpus_items (sku, qty) VALUES ('A-1', 3), ('B-2', 0) RETURNING id, sku, qty;
INSERT INTO corpus_items (sku) VALUES ('C-3');
INSERT INTO corpus_items (sku, qty) VALUES ('A-1', 7)
    ON CONFLICT (sku) DO UPDATE SET qty = corpus_items.qty + EXCLUDED.qty
    RETURNING id, sku, qty, xmax <> 0 AS was_update;
INSERT INTO corpus_items (sku, qty) VALUES ('B-2', 1) ON CONFLICT DO NOTHING RETURNING id;
UPDATE corpus_items SET qty = qty + 1 WHERE qty < 5 RETURNING sku, qty;
DELETE FROM corpus_items WHERE sku = 'C-3' RETURNING *;
MERGE INTO corpus_items AS t
USING (VALUES ('A-1', 1), ('D-4', 4)) AS s(sku, qty) ON t.sku = s.sku
WHEN MATCHED THEN UPDATE SET qty = t.qty - s.qty
WHEN NOT MATCHED THEN INSERT (sku, qty) VALUES (s.sku, s.qty);
SELECT id, sku, qty FROM corpus_items ORDER BY id;
