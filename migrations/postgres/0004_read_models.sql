-- Eventide read models (orders crate), PostgreSQL dialect. Same shape as the SQLite file.
--
-- Every table belongs to one projection and every row carries the `generation` it was written
-- by, first in the primary key: the projection runner rebuilds generation g + 1 beside the live
-- generation g, swaps the `projections` row atomically and then deletes g, so queries never see
-- a half-built model. Queries always filter `generation = (select generation from projections
-- where name = '<projection>')`, which is why every index starts with `generation`.
-- Conventions as in 0001: ids TEXT, every integer BIGINT (the Any driver decodes only i64),
-- timestamps BIGINT microseconds since the epoch (`*_at_us`), booleans 0/1 integers (the Any
-- driver has no portable boolean).

-- ---------------------------------------------------------------------------------------------
-- projection `orders`

-- One row per order: the order list and the header of the order detail page.
create table rm_orders (
    generation      bigint  not null,
    order_id        text    not null,
    customer_id     text    not null,
    -- kept current on CustomerRenamed (see rm_order_customers), not frozen at ordering time.
    customer_name   text    not null,
    status          text    not null, -- draft | confirmed | shipped | delivered | cancelled
    item_count      bigint  not null, -- units over all lines
    total_cents     bigint  not null,
    created_at_us   bigint  not null, -- recorded_at of OrderPlaced: the list's sort key
    updated_at_us   bigint  not null, -- recorded_at of the order's last event
    version         bigint  not null, -- order stream version this row reflects (If-Match)
    -- detail-only fields, null until the event that sets them.
    carrier         text,
    tracking_number text,
    cancel_reason   text,
    primary key (generation, order_id)
);

-- The list, newest first, keyset-paged by (created_at_us, order_id), unfiltered...
create index rm_orders_created_idx on rm_orders (generation, created_at_us, order_id);
-- ... filtered by status ...
create index rm_orders_status_idx on rm_orders (generation, status, created_at_us, order_id);
-- ... filtered by customer; also finds a customer's orders to rename on CustomerRenamed.
create index rm_orders_customer_idx on rm_orders (generation, customer_id, created_at_us, order_id);

-- The lines of each order (the detail page). One line per product (the domain forbids two).
create table rm_order_lines (
    generation       bigint  not null,
    order_id         text    not null,
    product_id       text    not null,
    -- log position of the ItemAdded: lines are shown in the order they were added.
    added_position   bigint  not null,
    sku              text    not null,
    product_name     text    not null, -- as copied into the order when the item was added
    unit_price_cents bigint  not null, -- idem: an order keeps the price it was placed at
    quantity         bigint  not null,
    primary key (generation, order_id, product_id)
);

-- The current name of every customer, so an order placed after a rename (with a name the
-- command read just before) still shows the current name, and renames reach the orders.
create table rm_order_customers (
    generation  bigint  not null,
    customer_id text    not null,
    name        text    not null,
    primary key (generation, customer_id)
);

-- ---------------------------------------------------------------------------------------------
-- projection `customers`

create table rm_customers (
    generation       bigint  not null,
    customer_id      text    not null,
    name             text    not null,
    email            text    not null,
    registered_at_us bigint  not null, -- recorded_at of CustomerRegistered
    version          bigint  not null, -- customer stream version (If-Match)
    primary key (generation, customer_id)
);

-- The customer list is sorted by name.
create index rm_customers_name_idx on rm_customers (generation, name, customer_id);

-- ---------------------------------------------------------------------------------------------
-- projection `products`

create table rm_products (
    generation   bigint  not null,
    product_id   text    not null,
    sku          text    not null,
    name         text    not null,
    price_cents  bigint  not null,
    discontinued bigint  not null, -- 0 | 1
    version      bigint  not null, -- product stream version (If-Match)
    primary key (generation, product_id)
);

-- The catalog is sorted by SKU.
create index rm_products_sku_idx on rm_products (generation, sku, product_id);

-- ---------------------------------------------------------------------------------------------
-- projection `dashboard`: small fact tables aggregated at query time (no running counters, so
-- the live model equals a replay by construction and nothing can drift).

-- Status and confirmed total of every order: orders by status, revenue, average order value.
create table rm_dash_orders (
    generation  bigint  not null,
    order_id    text    not null,
    status      text    not null,
    total_cents bigint  not null, -- 0 until OrderConfirmed fixes the total
    primary key (generation, order_id)
);

-- Counting by status scans only this index.
create index rm_dash_orders_status_idx on rm_dash_orders (generation, status, total_cents);

-- Quantities per order line: top products over orders that are not cancelled.
create table rm_dash_lines (
    generation   bigint  not null,
    order_id     text    not null,
    product_id   text    not null,
    product_name text    not null, -- fallback when the catalog never named the product
    quantity     bigint  not null,
    primary key (generation, order_id, product_id)
);

-- Summing quantities per product.
create index rm_dash_lines_product_idx on rm_dash_lines (generation, product_id);

-- Current product names, so the top-products list shows today's name.
create table rm_dash_product_names (
    generation bigint  not null,
    product_id text    not null,
    name       text    not null,
    primary key (generation, product_id)
);

-- Orders placed per minute (minute = recorded_at_us / 60,000,000). The query picks the 60
-- minutes before "now"; minutes two hours older than a placement are pruned (every 16th position).
create table rm_dash_minutes (
    generation bigint  not null,
    minute     bigint  not null,
    placed     bigint  not null,
    primary key (generation, minute)
);

-- ---------------------------------------------------------------------------------------------
-- projection `activity`: the last 100 events as sentences.

-- Keyed by log position: every event yields exactly one row, so deleting positions at or below
-- `position - 100` (done every 25th event, so a replay prunes at the same points) keeps the last
-- 100 plus at most 25; the query reads the newest 100.
create table rm_activity (
    generation bigint  not null,
    position   bigint  not null,
    event_id   text    not null,
    stream_id  text    not null,
    event_type text    not null,
    text       text    not null,
    at_us      bigint  not null, -- recorded_at of the event
    primary key (generation, position)
);

-- Product names for sentences about events that carry only a product id (ItemRemoved, ...).
create table rm_activity_products (
    generation bigint  not null,
    product_id text    not null,
    name       text    not null,
    primary key (generation, product_id)
);
