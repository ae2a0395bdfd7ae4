create or replace procedure p1() language sql begin atomic select 1; select x1; end; select x2;
