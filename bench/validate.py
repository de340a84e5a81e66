"""How long `validate` takes on a large pack, against plain JSON Schema validation.

Generates a pack with 2,000 lookup entries and 200 mapped fields (20 mappings of 10, each
for one office, so no two write the same records), then measures in the same run:

- baseline: the documents loaded with PyYAML's fastest safe loader and checked with plain
  `jsonschema` (the schema pass alone: no positions, no semantic checks);
- engine:   `validate_pack`, i.e. safe loading with positions, the schema pass with located
  problems, expressions type-checked against the entity schemas, references resolved.

Prints the best of several runs of each and their ratio. Targets: engine under 1 s on a
2-core machine, and under 3x the baseline. `--scale 10` makes the pack ten times bigger
(20,000 entries, 200 mappings); without it both sizes are measured.

    python bench/validate.py [--runs N] [--scale N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from tpsqbo_engine.ruleset.packs import pack_files
from tpsqbo_engine.ruleset.schema_check import kind_validators
from tpsqbo_engine.ruleset.validate import validate_pack

LOOKUP_ENTRIES = 2_000
MAPPINGS, FIELDS_PER_MAPPING = 20, 10
CUSTOMER_FIELDS = [
    ("DisplayName", "{{ name | qbo_display_name }}"),
    ("CompanyName", "{{ name }}"),
    ("PrimaryEmailAddr.Address", "{{ email | normalize_email }}"),
    ("PrimaryPhone.FreeFormNumber", "{{ phone }}"),
    ("BillAddr.Line1", "{{ address.line1 }}"),
    ("BillAddr.City", "{{ address.city }}"),
    ("BillAddr.PostalCode", "{{ address.postal_code }}"),
    ("Notes", "TPS client {{ code }} ({{ office }})"),
    ("Taxable", "{{ active and terms_days is not none }}"),
    ("SalesTermRef", "{{ ref('Term', lookup('big-table', code, default='Net 30')) }}"),
]


def write_pack(root: Path, scale: int = 1) -> None:
    (root / "pack.yaml").write_text("kind: pack\nid: bench\nversion: 1.0.0\n")
    entries = "\n".join(f"  key-{i:06d}: Account {i}" for i in range(LOOKUP_ENTRIES * scale))
    (root / "lookup.yaml").write_text(f"kind: lookup\nid: big-table\nentries:\n{entries}\n")
    for m in range(MAPPINGS * scale):
        fields = "\n".join(f'  {path}: "{value}"' for path, value in CUSTOMER_FIELDS)
        (root / f"mapping-{m:03d}.yaml").write_text(
            f"kind: mapping\nid: clients-{m:03d}\nsource: tps.Client\ntarget: qbo.Customer\n"
            f"direction: one-way\nwhen: \"{{{{ active and office == 'Office {m}' }}}}\"\n"
            f"fields:\n{fields}\n"
        )


def baseline(root: Path) -> int:
    validators = kind_validators()
    errors = 0
    for path in pack_files(root):
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        for doc in yaml.load_all(path.read_text(), Loader=loader):
            errors += sum(1 for _ in validators[doc["kind"]].iter_errors(doc))
    return errors


def engine(root: Path) -> int:
    return len(validate_pack(root).problems)


def best_of(runs: int, func: Callable[[Path], int], root: Path) -> tuple[float, int]:
    times, result = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        result = func(root)
        times.append(time.perf_counter() - started)
    return min(times), result


def measure(runs: int, scale: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_pack(root, scale)
        kind_validators()  # schema loading is shared by both sides and done once per process
        engine(root)  # warm caches (entity schemas, Jinja environment) outside the timing
        base_time, base_errors = best_of(runs, baseline, root)
        engine_time, problems = best_of(runs, engine, root)
    assert base_errors == 0 and problems == 0, "the generated pack must be valid"
    fields = MAPPINGS * FIELDS_PER_MAPPING * scale
    print(f"pack x{scale}: {LOOKUP_ENTRIES * scale:,} lookup entries, {fields:,} mapped fields")
    print(f"  baseline (yaml + plain jsonschema): {base_time * 1000:8.1f} ms")
    target = "  (target < 1000 ms)" if scale == 1 else ""
    print(f"  engine validate (all layers):       {engine_time * 1000:8.1f} ms{target}")
    print(f"  ratio engine / baseline:            {engine_time / base_time:8.2f}x (target < 3x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scale", type=int, default=0, help="1, 10, ...; default: 1 and 10")
    args = parser.parse_args()
    for scale in [args.scale] if args.scale else [1, 10]:
        measure(args.runs if scale == 1 else max(1, args.runs // 2), scale)


if __name__ == "__main__":
    main()
