-- Tags and queries by tag / type: the Dynamic Consistency Boundary (dcb.events), PostgreSQL
-- dialect.
--
-- An event carries tags (`product:<id>`, `email:<hash>`): the entities it is about, beyond its
-- stream. `read_query` and the conditional append ("fail if an event matching this query was
-- stored after position P") select events by type and tag, in position order.

-- The event's tags as a JSON array of strings (sorted, distinct), null when it has none. Text,
-- not jsonb or text[]: it is only ever read back whole, through sqlx's `Any` driver (which
-- decodes neither arrays nor jsonb). A denormalised copy of `event_tags`, so every read path
-- (read_stream, read_all, subscribe, read_correlated, read_query) gets an event's tags from its
-- own row: no join, no aggregation per read. Events stored before this migration have none.
-- Adding a nullable column without a default is a catalog change only (no table rewrite).
alter table events add column tags text;

-- The tag index: one row per (tag, event). A query item with tags is answered from here alone
-- (`tag in (..) and position > $n group by position having count(*) = <tags>`), and the
-- condition check of a conditional append is an index range scan from `after`. Written in the
-- same transaction as the event (under the log head lock); never updated or deleted.
create table event_tags (
    tag      text   not null,
    position bigint not null, -- events.position
    primary key (tag, position)
);

-- Query items by type only (`event_type in (..) and position > $n`), and the type filter of
-- items with tags and types.
create index events_type_idx on events (event_type, position);
