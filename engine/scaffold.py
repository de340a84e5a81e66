"""`tpsqbo-engine init`: a firm's folder to start from, without the demo.

It writes the firm config, a pack extending the standard one (with a commented patch to
show the way), a changelog, one test case whose expectation comes from the rules
themselves, and the CI workflow that runs `validate` and `test`. Nothing is overwritten.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tpsqbo_engine import resources
from tpsqbo_engine.errors import UsageError
from tpsqbo_engine.packtest import run_pack_tests
from tpsqbo_engine.ruleset.model import load_ruleset
from tpsqbo_engine.ruleset.packs import PACK_FILE, STANDARD_PACK
from tpsqbo_engine.ruleset.source import load_file


@dataclass(frozen=True)
class Scaffold:
    folder: Path
    written: tuple[Path, ...]


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")[:60]
    return slug if slug and slug[0].isalnum() else "firm"


def _standard_range() -> str:
    documents, _ = load_file(resources.rules_dir() / PACK_FILE)
    version = str(documents[0].data.get("version", "1.0.0"))
    major, minor = version.split(".")[:2]
    return f"^{major}.{minor}"


def _config(name: str) -> str:
    return f"""# The firm's config: which rules it runs and how the engine reaches TPS and QBO.
# Secrets never go here: the TPS token comes from TPSQBO_TPS_TOKEN and the QBO app's
# secret from TPSQBO_QBO_CLIENT_SECRET; `tpsqbo-engine connect` keeps the QBO tokens.
kind: firm
firm: {json.dumps(name)}
rules: [rules]
tps: {{connection: http, base_url: "https://tps.example.com", token_env: TPSQBO_TPS_TOKEN}}
qbo: {{environment: sandbox, token_file: .tpsqbo/qbo-tokens.json}}
state: .tpsqbo/state.db
workdir: .tpsqbo
"""


def _pack(name: str) -> str:
    return f"""# The firm's rule pack. `tpsqbo-engine validate rules` checks it, `tpsqbo-engine test
# rules` runs its cases in tests/, `tpsqbo-engine pack info rules` shows what it builds on.
kind: pack
id: {_slug(name)}
version: 0.1.0
description: {json.dumps(name + "'s sync rules, built on the standard pack.")}
extends:
  - {{pack: {STANDARD_PACK}, version: "{_standard_range()}"}}
# Change an inherited document without copying it, e.g.:
# patches:
#   - document: clients
#     set:
#       fields/Notes: {{value: "Client {{{{ code }}}} ({{{{ office }}}})", one_way: true}}
# disable: [finance-charges]
"""


_CASE = """# A test case: records in, the plan the rules must make out. `tpsqbo-engine test` runs
# it; `tpsqbo-engine test --update` rewrites `expect:` after a deliberate rule change.
description: A new TPS client becomes a QBO customer.
phase: initial
today: 2026-01-15
tps:
  Client:
    - {id: c-1001, code: ABC100, name: "Abbott & O'Neil LLP", email: ap@abbottoneil.example,
       phone: (416) 555-0142, office: Toronto, active: true, version: 1}
expect: {}
"""


def _changelog(name: str) -> str:
    return f"# {_slug(name)} changelog\n\n## 0.1.0\n\n- Started from the standard pack.\n"


def init_firm(folder: Path, name: str) -> Scaffold:
    files = {
        folder / "tpsqbo.yaml": _config(name),
        folder / "rules" / PACK_FILE: _pack(name),
        folder / "rules" / "CHANGELOG.md": _changelog(name),
        folder / "rules" / "tests" / "new-client.yaml": _CASE,
        folder / ".github" / "workflows" / "rules.yml": (
            resources.templates_dir() / "scaffold" / "github-workflow.yml"
        ).read_text(encoding="utf-8"),
    }
    # A dangling link exists for writing (the write lands where it points), not for exists().
    existing = [p for p in files if p.exists() or p.is_symlink()]
    if existing:
        raise UsageError(
            f"{existing[0]} exists already; init writes only new files",
            hint="pick an empty folder, or move the existing files away",
        )
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    rules = folder / "rules"
    run_pack_tests(rules, load_ruleset(rules), update=True)  # the case's expect: from the rules
    return Scaffold(folder, tuple(files))
