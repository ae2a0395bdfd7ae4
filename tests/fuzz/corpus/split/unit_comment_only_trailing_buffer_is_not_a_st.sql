/* only */
-- x
