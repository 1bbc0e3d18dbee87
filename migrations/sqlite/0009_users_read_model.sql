-- projection `users`: one row per account, as the admins' user list shows it (issue 17). Built
-- from the Account aggregate's events like every read model; no credential is in it (those are
-- in auth_credentials / auth_tokens, never in the log).
create table rm_users (
    generation   integer not null,
    account_id   text    not null,
    username     text    not null,
    display_name text    not null,
    role         text    not null, -- customer | staff | admin
    customer_id  text,             -- the customer a customer account acts for
    disabled     integer not null, -- 0 | 1
    tokens       integer not null, -- live API tokens
    opened_at_us integer not null,
    version      integer not null, -- account stream version
    primary key (generation, account_id)
) without rowid;

-- The list is sorted by username (unique per generation: an account stream per username).
create index rm_users_username_idx on rm_users (generation, username);
