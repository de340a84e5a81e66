"""The Coordinator in Redis, for workers on any number of machines sharing one broker.

Every check-and-change is one Lua script, so it is atomic across workers, and every clock
reading is Redis's own (`TIME`), so workers whose clocks disagree still share one window.

The realm budget is a sliding-window log (a sorted set of call times per realm, and one of
batch calls) rather than a token bucket: QBO counts the requests in the last minute and the
last second, and a bucket that admits every window's worth exactly would let a full bucket
plus a minute's refill through in one minute (about 1,000 requests where 500 are allowed),
while one that never can would leave most of the budget unused. The log admits exactly what
the windows admit. A call is counted from its admission until its answer arrives
(`limits.Budget.finished`): while in flight its score is the latest it could finish
(`limits.MAX_FLIGHT` on), and its answer moves it to the time it came.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

import redis

from tpsqbo_engine.connectors.qbo.limits import MAX_FLIGHT, Limits, client_windows
from tpsqbo_engine.fleet.coord import FirmRun, Lease, Schedule, wait_for_room

PREFIX = "tpsqbo:fleet:"

_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local minute, second = tonumber(ARGV[1]), tonumber(ARGV[2])
local per_minute, per_second = tonumber(ARGV[3]), tonumber(ARGV[4])
local batch_per_minute, is_batch = tonumber(ARGV[5]), ARGV[6] == '1'
local function fmt(x) return string.format('%.0f', x) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now - minute))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', fmt(now - minute))
local wait = 0
local poll, flight = tonumber(ARGV[8]), tonumber(ARGV[9])
local function until_free(key, low, skip, span)
  local found = redis.call('ZRANGEBYSCORE', key, low, '+inf', 'WITHSCORES', 'LIMIT', skip, 1)
  if found[2] then
    local at = tonumber(found[2])
    local w = at + span - now
    if at > now then w = poll end  -- in flight: free once its answer comes and ages out
    if w > wait then wait = w end
  end
end
local calls = redis.call('ZCARD', KEYS[1])
if calls >= per_minute then until_free(KEYS[1], '-inf', calls - per_minute, minute) end
local low = '(' .. fmt(now - second)
local recent = redis.call('ZCOUNT', KEYS[1], low, '+inf')
if recent >= per_second then until_free(KEYS[1], low, recent - per_second, second) end
if is_batch then
  local batches = redis.call('ZCARD', KEYS[2])
  if batches >= batch_per_minute then
    until_free(KEYS[2], '-inf', batches - batch_per_minute, minute)
  end
end
if wait > 0 then return fmt(math.max(wait, 1)) end
redis.call('ZADD', KEYS[1], fmt(now + flight), ARGV[7])
if is_batch then redis.call('ZADD', KEYS[2], fmt(now + flight), ARGV[7]) end
local keep = math.floor((minute + flight) / 1000) + 1000
redis.call('PEXPIRE', KEYS[1], keep)
redis.call('PEXPIRE', KEYS[2], keep)
return '0'
"""

_FINISHED = """
local t = redis.call('TIME')
local now = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
redis.call('ZADD', KEYS[2], 'XX', now, ARGV[1])
return 1
"""

_BATCH_ROOM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - tonumber(ARGV[1])))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then return 1 end
return 0
"""

_LEASE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# A record carrying a fencing token older than the newest one seen for the firm's realm is
# refused: it comes from a run that lost its lease. Records made outside a lease (token 0:
# waiting, or failed before the realm was known) never replace a running one while that run
# still holds its realm's lease; a killed run's record gives way once its lease expired.
_RECORD = """
local held = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
local token = tonumber(ARGV[3])
if token > 0 and token < held then return 0 end
if token == 0 then
  local current = redis.call('HGET', KEYS[1], ARGV[1])
  if current then
    local run = cjson.decode(current)
    if run['status'] == 'running' then
      local lease = redis.call('GET', ARGV[5] .. run['realm'])
      local its = string.format('%d', run['token'])
      if lease and string.match(lease, '|(%d+)$') == its then return 0 end
    end
  end
end
if token > held then redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
return 1
"""

# A firm already scheduled keeps when it was last enqueued (its third line).
_SCHEDULE = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
local last = ARGV[4]
if old then last = string.match(old, "([^\\n]*)$") end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. "\\n" .. ARGV[3] .. "\\n" .. last)
return 1
"""


def _lease_value(lease: Lease) -> str:
    return f"{lease.owner}|{lease.token}"


class RedisCoordinator:
    def __init__(self, url: str, *, prefix: str = PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        self.redis: redis.Redis = redis.Redis.from_url(url)
        self._admit = self.redis.register_script(_ADMIT)
        self._finished = self.redis.register_script(_FINISHED)
        self._batch_room = self.redis.register_script(_BATCH_ROOM)
        self._lease = self.redis.register_script(_LEASE)
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)
        self._record = self.redis.register_script(_RECORD)
        self._schedule = self.redis.register_script(_SCHEDULE)

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # Leases ---------------------------------------------------------------------------------
    def try_lease(self, realm: str, owner: str, ttl: float) -> Lease | None:
        keys = [self._key("lease", realm), self._key("fence", realm)]
        token = int(cast(Any, self._lease(keys=keys, args=[owner, int(ttl * 1000)])))
        return Lease(realm, owner, token) if token else None

    def renew(self, lease: Lease, ttl: float) -> bool:
        key = self._key("lease", lease.realm)
        return bool(self._renew(keys=[key], args=[_lease_value(lease), int(ttl * 1000)]))

    def holds(self, lease: Lease) -> bool:
        value = cast(Any, self.redis.get(self._key("lease", lease.realm)))
        return value is not None and value.decode() == _lease_value(lease)

    def lease_held(self, realm: str, token: int) -> bool:
        """Whether the realm's lease with this token is still alive (its run may write)."""
        value = cast(Any, self.redis.get(self._key("lease", realm)))
        return value is not None and value.decode().rpartition("|")[2] == str(token)

    def release(self, lease: Lease) -> None:
        self._release(keys=[self._key("lease", lease.realm)], args=[_lease_value(lease)])

    # Budget ---------------------------------------------------------------------------------
    def budget(self, realm: str, limits: Limits) -> RedisBudget:
        return RedisBudget(self, realm, limits)

    # Runs and schedules ---------------------------------------------------------------------
    def record(self, run: FirmRun) -> bool:
        keys = [self._key("runs"), self._key("tokens")]
        args: list[str | int] = [
            run.firm,
            f"{run.firm}|{run.realm}",
            run.token,
            run.to_json(),
            self._key("lease", ""),
        ]
        return bool(self._record(keys=keys, args=args))

    def runs(self) -> list[FirmRun]:
        found = cast(dict[bytes, bytes], self.redis.hgetall(self._key("runs")))
        return sorted((FirmRun.from_json(v) for v in found.values()), key=lambda r: r.firm)

    def set_schedule(self, schedule: Schedule) -> None:
        args = [schedule.firm, schedule.config, repr(schedule.every), repr(schedule.last)]
        self._schedule(keys=[self._key("schedules")], args=args)

    def remove_schedule(self, firm: str) -> bool:
        return bool(self.redis.hdel(self._key("schedules"), firm))

    def schedules(self) -> list[Schedule]:
        found = cast(dict[bytes, bytes], self.redis.hgetall(self._key("schedules")))
        result = []
        for firm, text in sorted(found.items()):
            config, every, last = text.decode().split("\n")
            result.append(Schedule(firm.decode(), config, float(every), float(last)))
        return result

    def mark_enqueued(self, firm: str, at: float) -> None:
        for schedule in self.schedules():
            if schedule.firm == firm:
                text = f"{schedule.config}\n{schedule.every}\n{at!r}"
                self.redis.hset(self._key("schedules"), firm, text)


class RedisBudget:
    """The realm's one budget, drawn on by every worker: `acquire` waits until Redis admits
    the call into the realm's windows."""

    def __init__(self, coordinator: RedisCoordinator, realm: str, limits: Limits) -> None:
        windows = client_windows(limits)
        self._script = coordinator._admit
        self._done = coordinator._finished
        self._room = coordinator._batch_room
        self._keys = [coordinator._key("calls", realm), coordinator._key("batches", realm)]
        self._args: list[Any] = [
            int(windows.minute * 1_000_000),
            int(windows.second * 1_000_000),
            limits.per_minute,
            limits.per_second,
            limits.batch_per_minute,
        ]
        # How often to ask again while the call to leave the window is still in flight.
        self._poll = max(int(windows.second * 1_000_000 / 20), 1000)
        self.waited = 0.0

    def batch_room(self) -> bool:
        args = [self._args[0], self._args[4]]
        return bool(self._room(keys=[self._keys[1]], args=args))

    def acquire(self, *, batch: bool) -> str:
        ticket = uuid.uuid4().hex
        flight = int(MAX_FLIGHT * 1_000_000)

        def admit() -> tuple[float, str]:
            args = [*self._args, int(batch), ticket, self._poll, flight]
            return int(cast(Any, self._script(keys=self._keys, args=args))) / 1_000_000, ticket

        waited, _ = wait_for_room(admit)
        self.waited += waited
        return ticket

    def finished(self, ticket: str) -> None:
        self._done(keys=self._keys, args=[ticket])
