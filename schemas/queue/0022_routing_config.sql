-- Routing configuration that administrators edit through the API: the IP
-- gateways, least-cost routes by destination prefix, and inbound rules on
-- the dialled number. The router and the inbound router load from here.

CREATE TABLE gateways (
    name         text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    address      text NOT NULL,
    max_channels integer NOT NULL DEFAULT 0 CHECK (max_channels >= 0),
    -- SIP digest credentials; the password is never returned by the API.
    username     text NOT NULL DEFAULT '',
    password     text NOT NULL DEFAULT '',
    enabled      boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE routes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prefix     text NOT NULL CHECK (prefix ~ '^\+?[0-9]{0,20}$'),
    -- A gateway that routes still use cannot be deleted.
    gateway    text NOT NULL REFERENCES gateways (name) ON UPDATE CASCADE,
    cost       double precision NOT NULL DEFAULT 0 CHECK (cost >= 0),
    weight     integer NOT NULL DEFAULT 1 CHECK (weight >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (prefix, gateway)
);

CREATE TABLE inbound_rules (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Lower runs first; ties by id.
    priority    integer NOT NULL DEFAULT 100,
    match_kind  text NOT NULL CHECK (match_kind IN ('exact', 'prefix', 'pattern')),
    match       text NOT NULL,
    dest_kind   text NOT NULL CHECK (dest_kind IN ('mailbox', 'email', 'webhook')),
    destination text NOT NULL,
    -- HMAC key for webhook signatures; never returned by the API.
    secret      text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbound_rules_order ON inbound_rules (priority, id) WHERE enabled;
