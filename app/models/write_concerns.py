"""How durable a write is when MongoDB acknowledges it (the client's default and the exceptions).

Every write is acknowledged only once it is journaled on a majority of the replica set, so an
acknowledged write survives a crash or a failover. Workers keep their position in memory (a
sync's cursor, a claimed event) and carry on after the database comes back: a write that was
acknowledged and then lost would be skipped for good. MongoDB defaults to this on replica sets
since 5.0; `app.db.make_client` sets it so that a standalone server, SecantusDB or a URI with
`w=1` cannot weaken it. docs/ARCHITECTURE.md lists the rule of each write path.
"""

from pymongo.write_concern import WriteConcern

DURABLE_WRITES = WriteConcern(w="majority", j=True)

# Only for writes whose loss is harmless: a lease heartbeat (a lost one only shortens the lease,
# and the holder's lease-guarded writes stop it if another worker took the work over meanwhile),
# and the cleanup of a confirmed transaction's token (one left behind expires).
RELAXED_WRITES = WriteConcern(w=1, j=False)
