-- Crypto-shredding (eventstore::personal_data): personal fields of events are sealed with a key
-- per subject (a customer); the keys live here, outside the log, each wrapped by the master key
-- from the configuration. Erasing a subject deletes its key and keeps a tombstone: every copy of
-- its sealed fields (the log, snapshots rebuilt later, read models rebuilt later, broker
-- messages) can no longer be opened, while the log itself is never changed.
create table data_keys (
    subject       text    primary key,
    -- base64 of nonce (24 bytes) || XChaCha20-Poly1305(master, data key, aad = subject);
    -- null once erased.
    wrapped_key   text,
    created_at_us integer not null,
    erased_at_us  integer
);

-- Which master key wraps the keys: an HMAC of a fixed text under it, written by the first
-- instance that starts. An instance started with another master key refuses to start (every
-- instance on one database must be given the same key), instead of failing to open fields later.
create table data_key_master (
    id          integer primary key check (id = 1),
    fingerprint text not null
);

-- The activity feed's sentences name customers: the customer a row names, so an erasure can
-- blank the sentences that name them.
alter table rm_activity add column subject text;
