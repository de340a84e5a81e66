"""What of a QBO payment TPS cannot apply: the part that paid a finance charge's QBO invoice.

TPS applies payments to invoices (a payment's `applications` take an `invoice_id`). A QBO
payment may also pay the QBO invoice the engine made from a TPS finance charge (or an
increase adjustment): that TPS record is no invoice. The standard rules apply the lines that
pay invoices (`lines_to_apply`) and leave the rest unapplied on the TPS payment
(`lines_left_unapplied`), so the money is in TPS and the client's balance agrees; the planner then
warns on the payment, naming each such TPS record and its amount, for the firm to attach
the unapplied amount to it in TPS (Payment → Detach/Attach), which the engine cannot do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tpsqbo_engine.filters import ExpressionError, to_decimal
from tpsqbo_engine.ruleset.model import RuleSet
from tpsqbo_engine.sync.links import Links, system_of

# What a TPS payment is applied to, and the QBO entity a QBO payment line pays.
APPLIED_TO = "tps.Invoice"
PAID = "qbo.Invoice"
MAX_LINES = 10_000  # a QBO transaction with more lines than this is not one to trust


def lines_of(lines: Any, reader: str) -> list[Any]:
    """A payment's lines as `reader` (a rule function, or the planner) is given them; none
    are no lines."""
    if lines is None:
        return []
    if not isinstance(lines, list | tuple):
        raise ExpressionError(
            f"{reader}: expected a QBO payment's lines (Line), got {type(lines).__name__}"
        )
    if len(lines) > MAX_LINES:
        raise ExpressionError(f"{reader}: more than {MAX_LINES:,} lines")
    return list(lines)


def paid_record(line: Any, entity: str, tps_ids: Mapping[str, str]) -> str | None:
    """The TPS id behind the QBO `entity` record this line pays (its first linked
    transaction, as the rules read it), or None when it pays no linked one."""
    if not isinstance(line, Mapping):
        return None
    linked = line.get("LinkedTxn")
    if not isinstance(linked, list | tuple) or not linked or not isinstance(linked[0], Mapping):
        return None
    first = linked[0]
    if first.get("TxnType") not in (None, entity):
        return None
    return tps_ids.get(str(first.get("TxnId")))


@dataclass(frozen=True)
class Unapplied:
    """One line of a QBO payment that paid the QBO copy of a TPS record TPS cannot apply a
    payment to."""

    record: str  # "tps.FinanceCharge:fc-1"
    qbo: str  # "qbo.Invoice:130"
    mapping: str
    amount: Decimal

    def told(self) -> str:
        copy = f"its QBO copy {self.qbo}, mapping {self.mapping}"
        return f"{self.amount:.2f} paid {self.record} ({copy})"

    def where(self) -> str:
        """What to attach it to, as TPS names it: 'finance charge fc-1'."""
        qualified, ident = self.record.split(":", 1)
        words = re.sub(r"(?<!^)(?=[A-Z])", " ", qualified.split(".", 1)[1]).lower()
        return f"{words} {ident}"


@dataclass(frozen=True)
class Carrier:
    """A mapping whose links say which TPS record a QBO record is the copy of: one the
    rules run, or one a pack disabled (`disable:`). A finance charge synced before its
    mapping was disabled is still in QBO, still that charge's copy, and still paid."""

    id: str
    source: str
    target: str
    disabled: bool = False

    @property
    def named(self) -> str:
        return f"{self.id} (disabled)" if self.disabled else self.id

    @property
    def pair(self) -> str:
        # as `pair_of` names a mapping's: links are kept per TPS entity and QBO entity
        return f"{self.tps_side.split('.', 1)[1]}|{self.qbo_side.split('.', 1)[1]}"

    @property
    def tps_side(self) -> str:
        return self.source if system_of(self.source) == "tps" else self.target

    @property
    def qbo_side(self) -> str:
        return self.target if system_of(self.source) == "tps" else self.source


def carriers(rules: RuleSet) -> list[Carrier]:
    """Every mapping whose links the state may hold: those running, then those disabled."""
    running = [Carrier(m.id, m.source, m.target) for m in rules.mappings]
    disabled = [
        Carrier(d.id, d.entities[0], d.entities[1], disabled=True)
        for d in rules.disabled
        if d.kind == "mapping" and len(d.entities) == 2
    ]
    return running + disabled


def split_lines(
    lines: Any, reader: str, rules: RuleSet, links: Links
) -> tuple[list[Any], list[tuple[Any, Unapplied]]]:
    """A QBO payment's lines that link a transaction, as (those to apply to TPS invoices,
    each of the others with what it paid): a line paying a QBO invoice the engine made from
    a TPS record that is not an invoice (a finance charge, an increase) is left unapplied,
    whether or not the mapping that made it still runs. A line paying an invoice no mapping
    links stays with those to apply, whose rule then fails for it as before."""
    sides = [
        (carrier, links.to_tps.get(carrier.pair, {}))
        for carrier in carriers(rules)
        if carrier.qbo_side == PAID and carrier.tps_side != APPLIED_TO
    ]
    to_apply: list[Any] = []
    left: list[tuple[Any, Unapplied]] = []
    for line in lines_of(lines, reader):
        if not isinstance(line, Mapping) or not line.get("LinkedTxn"):
            continue
        part = next(
            (
                _part(line, carrier, tps_id)
                for carrier, tps_ids in sides
                if (tps_id := paid_record(line, "Invoice", tps_ids)) is not None
            ),
            None,
        )
        if part is None:
            to_apply.append(line)
        else:
            left.append((line, part))
    return to_apply, left


def _part(line: Mapping[str, Any], carrier: Carrier, tps_id: str) -> Unapplied:
    try:
        amount = to_decimal(line.get("Amount") or 0)
    except ExpressionError as refused:
        raise ExpressionError(f"a payment line's Amount: {refused.message}") from None
    qbo_id = str(line["LinkedTxn"][0].get("TxnId"))
    return Unapplied(f"{carrier.tps_side}:{tps_id}", f"{PAID}:{qbo_id}", carrier.named, amount)


def warning(parts: list[Unapplied]) -> str:
    """The history's Warning for a TPS payment written with these parts left unapplied."""
    total = sum((part.amount for part in parts), Decimal(0))
    return (
        f"{total:.2f} of this payment is left unapplied on the TPS payment, as TPS applies "
        f"payments to invoices only: {'; '.join(part.told() for part in parts)}. In TPS, "
        f"attach the unapplied amount to {', '.join(part.where() for part in parts)} with "
        "Payment → Detach/Attach"
    )
