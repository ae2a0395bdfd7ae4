SELECT $a$ ; $$ ; $b$ ; $a$, x1;
SELECT $$x;$$, x2;
SELECT $q$a$q$ || $_1$;$_1$, x3;
