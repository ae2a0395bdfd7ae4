SELECT $body$
;

$not$;
$body$ AS b, x1;
