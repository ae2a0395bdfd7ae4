SELECT :'v', x1 ; SELECT :"w", x2;
