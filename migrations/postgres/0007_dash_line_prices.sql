-- The dashboard's lines keep what the domain's OrderLine holds, PostgreSQL dialect. Same shape as
-- the SQLite file.
--
-- The `dashboard` projection folds orders through the domain's own `Order::evolve`, so an order
-- placed in an earlier batch must be read back into an `OrderState`: every line with its SKU and
-- unit price. The `total_cents` it writes to `rm_dash_orders` is then the domain's total of the
-- lines in every status (the query counts it as revenue for confirmed, shipped and delivered
-- orders only, as before).
--
-- The columns are nullable: rows written before this migration have neither, and the runner has
-- no schema version that would rebuild a projection by itself. The projection reads such a line
-- back with a placeholder SKU and price, writes it back without them, and while an order holds
-- one it keeps the total its row states (0 until OrderConfirmed states it, as before). A rebuild
-- (`POST /api/projections/dashboard/rebuild`, or "Rebuild" in the admin panel) writes every line
-- with both columns, after which no row lacks them.
alter table rm_dash_lines add column sku text;
alter table rm_dash_lines add column unit_price_cents bigint;
