"""Many firms: a fleet of firm configs synced by workers that share a broker.

firms        what a fleet is: a folder or list of firm configs
coord        the Coordinator interface: realm leases with fencing tokens, the realm's
             shared rate-limit budget, the last run of every firm, schedules
redis_coord  the Coordinator in Redis (Lua scripts), for workers on many machines
local_coord  the Coordinator in one SQLite file, for the embedded fleet (no broker)
runner       one firm's run: lease, fenced clients, sync, record
embedded     `fleet run` without a broker: a pool of threads in this process
tasks        the Celery app and its tasks (`fleet run/worker/schedule` with a broker)
reach        a broker that cannot be reached: a usage error naming it, password masked
views        what `fleet status` shows: lost runs, never-run and overdue scheduled firms
"""
