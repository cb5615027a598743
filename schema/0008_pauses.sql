-- Pauses that survive a restart (genqctl pause [--key K]): one row per pause in force; scope ''
-- is the whole queue, any other scope the name of a key. `genqctl resume` deletes them.
CREATE TABLE pauses (
    scope TEXT PRIMARY KEY,
    at_ms INTEGER NOT NULL
);
