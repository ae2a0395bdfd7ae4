--pgqfs:priority="7"
/* c */
-- pgqfs: bogus=1
