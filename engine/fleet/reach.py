"""Reaching the fleet's broker: a broker that cannot be reached (a typo in the URL, Redis
down or stalled) is the user's to fix, so it is a usage error naming the URL, its password
masked, and never "a bug"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from tpsqbo_engine.errors import UsageError

BROKER_ENV = "TPSQBO_FLEET_BROKER"


def redacted(url: str) -> str:
    """The URL without its password, to be shown."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + parts.netloc.rpartition("@")[2]))


@contextmanager
def reaching(broker: str) -> Iterator[None]:
    """A broker that cannot be reached is the user's to fix (a typo, Redis down), not a bug.
    Without a broker there is nothing to reach (and redis need not be installed)."""
    if not broker:
        yield
        return
    import redis
    from kombu.exceptions import OperationalError

    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
        raise _unreachable(broker, error) from None
    except OperationalError as error:
        raise _unreachable(broker, error) from None
    except RuntimeError as error:  # Celery's result store, after its reconnection retries
        if _answers(broker):
            raise
        raise _unreachable(broker, error) from None
    except ValueError as error:  # redis-py: not a redis:// URL
        raise UsageError(
            f"the broker URL {redacted(broker)} cannot be used: {error}",
            hint=f"check --broker / {BROKER_ENV} (redis://host:6379/0)",
        ) from None


def _answers(broker: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(broker).ping())
    except (redis.exceptions.RedisError, ValueError):
        return False


def _unreachable(broker: str, error: Exception) -> UsageError:
    told = str(error).replace(broker, redacted(broker))
    return UsageError(
        f"cannot reach the broker at {redacted(broker)}: {told}",
        hint=f"is redis-server running there? check --broker / {BROKER_ENV}",
    )
