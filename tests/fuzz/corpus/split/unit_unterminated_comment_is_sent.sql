SELECT x1;
/* open

