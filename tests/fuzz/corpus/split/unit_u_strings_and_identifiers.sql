SELECT U&'d;\0061t', U&"d;a", x1;
