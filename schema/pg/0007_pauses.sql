-- The SQLite store's version 8 for the shared store: pauses that survive a restart. A pause is
-- one node's (each node has its own control socket), so the node is part of the key; scope ''
-- is the node's whole queue, any other scope the name of a key.
CREATE TABLE pauses (
    node  TEXT NOT NULL,
    scope TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (node, scope)
);
