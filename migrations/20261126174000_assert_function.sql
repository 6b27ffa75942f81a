-- Lets a single data-modifying statement abort itself (and so roll back every CTE in it) when
-- an invariant it relies on does not hold. Used as a backstop behind the order placement
-- statement, which must never leave a partial reservation.
CREATE FUNCTION ops_assert(ok boolean, message text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT ok THEN
    RAISE EXCEPTION 'invariant violated: %', message USING ERRCODE = 'P0001';
  END IF;
  RETURN true;
END
$$;
