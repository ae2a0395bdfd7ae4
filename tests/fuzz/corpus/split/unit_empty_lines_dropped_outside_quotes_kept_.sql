SELECT x1,

  'a

b',
  $$

$$;
