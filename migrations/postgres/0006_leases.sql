-- Who holds which leader lease (eventstore::lease), PostgreSQL dialect.
--
-- The lock itself is a PostgreSQL session advisory lock (pg_try_advisory_lock), released by the
-- server when the holder's session ends; this table only records the instance that acquired it
-- last, so every instance can show who runs what (admin panel, /api/projections, /api/relay).
-- On SQLite (one process) every lease is granted at once.
create table leases (
    name           text   primary key, -- e.g. projection:orders, relay:nats
    instance       text   not null,    -- the instance name of the holder (--instance-name)
    acquired_at_us bigint not null
);
