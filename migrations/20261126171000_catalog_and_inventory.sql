CREATE TABLE products (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  sku         text NOT NULL UNIQUE CHECK (sku ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  price_cents bigint NOT NULL CHECK (price_cents BETWEEN 0 AND 100000000),
  currency    char(3) NOT NULL,
  -- available = on_hand - reserved. The CHECKs are the backstop behind the conditional
  -- updates: no code path can take either figure below zero or reserve more than is on hand.
  on_hand     integer NOT NULL CHECK (on_hand >= 0),
  reserved    integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT products_reserved_within_on_hand CHECK (reserved <= on_hand)
);

-- The stock ledger: every change of on_hand or reserved leaves a row, so for every product
--   initial + sum(adjustment) = on_hand + sum(sale)   and
--   sum(reserve) - sum(release) - sum(sale) = reserved
-- can be audited. quantity is signed only for adjustments.
CREATE TABLE stock_movements (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  product_id  uuid NOT NULL REFERENCES products (id),
  kind        text NOT NULL CHECK (kind IN ('initial', 'adjustment', 'reserve', 'release', 'sale')),
  quantity    integer NOT NULL CHECK (quantity <> 0 AND (kind = 'adjustment' OR quantity > 0)),
  order_id    uuid,
  actor_id    uuid,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_movements_product_idx ON stock_movements (product_id);
CREATE INDEX stock_movements_order_idx ON stock_movements (order_id) WHERE order_id IS NOT NULL;
