-- projection `products` keeps each product's stock (issue 18): units on hand and units
-- reserved by confirmed orders; available = on_hand - reserved. Products created before stock
-- existed have none (0), which is what their events say.
alter table rm_products add column on_hand integer not null default 0;
alter table rm_products add column reserved integer not null default 0;

-- The dashboard's low-stock list: least available first.
create index rm_products_available_idx on rm_products (generation, (on_hand - reserved));
