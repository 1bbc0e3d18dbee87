-- Identity beside the log (orders::identity), PostgreSQL dialect. Accounts, roles and token
-- issue/revocation are events (stream `account-<id>`); what must never be an event lives here:
-- password hashes, the hashes of API token secrets, and the server-side sessions.
--
-- Conventions as in 0001: every integer is BIGINT, ids TEXT, timestamps BIGINT microseconds.

-- One argon2id hash (PHC string) per account that has a password.
create table auth_credentials (
    account_id    text   primary key,
    password_hash text   not null,
    updated_at_us bigint not null
);

-- API tokens: the SHA-256 of the secret (tokens are 256-bit random, so a fast hash is enough),
-- looked up on every request that presents one. Whether a token is live is decided by its
-- account's events (ApiTokenIssued / ApiTokenRevoked), not by this row.
create table auth_tokens (
    secret_hash   text   primary key,
    token_id      text   not null unique,
    account_id    text   not null,
    created_at_us bigint not null
);

-- tower-sessions records (orders::identity::session_store): the id is the cookie value.
create table auth_sessions (
    id        text   primary key,
    data      text   not null,
    expiry_us bigint not null
);
create index auth_sessions_expiry_idx on auth_sessions (expiry_us);
