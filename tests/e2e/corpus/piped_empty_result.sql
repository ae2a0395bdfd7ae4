SELECT relname FROM pg_class WHERE false;
