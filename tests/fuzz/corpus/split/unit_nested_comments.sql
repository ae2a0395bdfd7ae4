/* a /* b ; */ ; */ SELECT x1;
SELECT /* x /* y */ ; */ x2; -- tail ;
