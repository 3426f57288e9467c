-- The open incidents a person who is not staff may see, counted per status without reading the rest
-- (the dashboard's home): the public ones from the index alone, the private ones (few) through an index
-- of their own, then checked for the person's membership or role. The queries repeat these WHERE
-- clauses word for word, as SQLite needs to use a partial index.
CREATE INDEX incidents_public_status ON incidents (status) WHERE NOT private;
CREATE INDEX incidents_private_status ON incidents (status) WHERE private;
