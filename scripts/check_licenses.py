#!/usr/bin/env python3
"""Checks every dependency's licence against a permissive allowlist; fails on copyleft.

Run through `scripts/check-licenses.sh`, which feeds it `cargo metadata --format-version 1
--locked --all-features` (the workspace's whole resolved graph: every target platform, every
feature, build and dev dependencies) on stdin. It also reads `Cargo.lock` (to notice locked
packages that metadata does not resolve) and `contracts/package-lock.json` (the contracts' npm
packages, all of them test tooling).

Rules:
- a package's `license` is an SPDX expression: `A OR B` passes when one side does, `A AND B`
  needs both, `X WITH exception` is judged by `X` (an exception only adds permissions); the
  legacy crates.io separator `/` means `OR`;
- a licence passes when it is on ALLOWED below; anything else fails, and a failure whose every
  alternative contains a GPL-family (or other strong copyleft) licence is reported as COPYLEFT;
- a package without a `license` (a crate with only `license_file`, an npm package with neither a
  `license` in the lock nor in its `node_modules/<pkg>/package.json`) fails unless EXCEPTIONS
  below names it, with the version, and says why it is acceptable.

Standard library only. Exit status: 0 when every package passes, 1 otherwise, 2 on bad input.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

# Permissive licences (SPDX ids). Anything not here fails.
ALLOWED = {
    "MIT",
    "MIT-0",
    "Apache-2.0",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "0BSD",
    "ISC",
    "Zlib",
    "BSL-1.0",
    "Unlicense",
    "CC0-1.0",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "CDLA-Permissive-2.0",  # webpki-roots' data (the Mozilla root list)
    "BlueOak-1.0.0",
    "Python-2.0",
    # Weak, file-level copyleft, allowed on purpose: MPL-2.0 puts obligations only on the MPL
    # files themselves (publish changes made to them), not on the code they are linked with, and
    # is compatible with our Apache-2.0. We use such crates unmodified from crates.io (today the
    # `symphonia` audio decoders of the speech worker). They are listed in every run's output;
    # patching one means publishing the patched files.
    "MPL-2.0",
}

# Weak copyleft that is allowed above; reported separately so it stays visible.
WEAK_COPYLEFT = {"MPL-2.0"}

# Strong copyleft families: a failure made only of these is reported as COPYLEFT.
COPYLEFT = re.compile(r"^(A?GPL|LGPL|SSPL|EUPL|OSL|RPL|CPAL|Sleepycat|CC-BY-SA|CC-BY-NC|MS-RL)", re.IGNORECASE)

# Packages without a declared licence that were reviewed by hand: (ecosystem, name, version) ->
# why it is acceptable. A new version needs a new review, so the version is part of the key.
EXCEPTIONS = {
    ("npm", "@tonstudio/parser-runtime", "0.0.1"): (
        "contracts' test tooling only (dev dependency, never shipped): the parser runtime of "
        "ton-assembly (MIT), published by the same TON Studio team with no licence field or file"
    ),
}


class ExpressionError(ValueError):
    """An SPDX expression that does not parse."""


def tokenize(expression: str) -> list[str]:
    """Splits an SPDX expression into ids, operators and parentheses (`/` becomes `OR`)."""
    tokens = re.findall(r"\(|\)|/|[^\s()/]+", expression)
    out = []
    for t in tokens:
        if t == "/":
            out.append("OR")
        elif t.upper() in ("AND", "OR", "WITH"):
            out.append(t.upper())
        else:
            out.append(t)
    return out


class Parser:
    """Recursive-descent SPDX parser (WITH binds tighter than AND, AND tighter than OR).

    Each expression evaluates to a list of alternatives, each alternative the set of licence ids
    that must all be accepted for it (disjunctive normal form).
    """

    def __init__(self, expression: str):
        self.expression = expression
        self.tokens = tokenize(expression)
        self.pos = 0

    def parse(self) -> list[frozenset[str]]:
        if not self.tokens:
            raise ExpressionError("empty licence expression")
        result = self.or_expr()
        if self.pos != len(self.tokens):
            raise ExpressionError(f"unexpected {self.tokens[self.pos]!r} in {self.expression!r}")
        return result

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> str:
        token = self.peek()
        if token is None:
            raise ExpressionError(f"truncated licence expression {self.expression!r}")
        self.pos += 1
        return token

    def or_expr(self) -> list[frozenset[str]]:
        alternatives = self.and_expr()
        while self.peek() == "OR":
            self.next()
            alternatives = alternatives + self.and_expr()
        return alternatives

    def and_expr(self) -> list[frozenset[str]]:
        alternatives = self.atom()
        while self.peek() == "AND":
            self.next()
            right = self.atom()
            alternatives = [a | b for a in alternatives for b in right]
        return alternatives

    def atom(self) -> list[frozenset[str]]:
        token = self.next()
        if token == "(":
            inner = self.or_expr()
            if self.next() != ")":
                raise ExpressionError(f"unbalanced parentheses in {self.expression!r}")
            return inner
        if token in ("AND", "OR", "WITH", ")"):
            raise ExpressionError(f"unexpected {token!r} in {self.expression!r}")
        if self.peek() == "WITH":
            self.next()
            self.next()  # the exception: judged by the licence it modifies
        return [frozenset([token])]


def base_id(licence: str) -> str:
    """`GPL-2.0+` and `LicenseRef-x` stay themselves; `+` (or later) is dropped for lookup."""
    return licence[:-1] if licence.endswith("+") else licence


def judge(expression: str) -> tuple[bool, str, set[str]]:
    """Returns (passes, why, weak-copyleft ids used by the chosen alternative)."""
    try:
        alternatives = Parser(expression).parse()
    except ExpressionError as e:
        return False, str(e), set()
    passing = [a for a in alternatives if all(base_id(x) in ALLOWED for x in a)]
    if passing:
        # Prefer an alternative without weak copyleft when there is one.
        best = min(passing, key=lambda a: len({base_id(x) for x in a} & WEAK_COPYLEFT))
        return True, "", {base_id(x) for x in best} & WEAK_COPYLEFT
    copyleft = all(any(COPYLEFT.match(base_id(x)) for x in a) for a in alternatives)
    bad = sorted({x for a in alternatives for x in a if base_id(x) not in ALLOWED})
    why = "COPYLEFT" if copyleft else "not on the allowlist"
    return False, f"{why}: {', '.join(bad)}", set()


@dataclass
class Package:
    """One package of either ecosystem, as the check sees it."""

    ecosystem: str
    name: str
    version: str
    licence: str | None
    note: str = ""


@dataclass
class Report:
    failures: list[str]
    weak: dict[str, list[str]]
    excepted: list[str]
    checked: int = 0


def check(packages: list[Package], report: Report) -> None:
    for p in packages:
        report.checked += 1
        label = f"{p.ecosystem} {p.name} {p.version}"
        exception = EXCEPTIONS.get((p.ecosystem, p.name, p.version))
        if not p.licence:
            if exception:
                report.excepted.append(f"{label}: {exception}")
            else:
                where = f" ({p.note})" if p.note else ""
                report.failures.append(f"{label}: no licence declared{where}; review it and add it to EXCEPTIONS")
            continue
        ok, why, weak = judge(p.licence)
        if not ok:
            report.failures.append(f"{label}: {p.licence!r} {why}")
        for w in weak:
            report.weak.setdefault(w, []).append(f"{p.name} {p.version}")


def cargo_packages(metadata: dict, lock_path: Path) -> tuple[list[Package], list[str]]:
    """The packages of the resolved graph, and the locked ones metadata does not resolve."""
    packages = []
    for p in metadata.get("packages", []):
        note = f"license_file = {p['license_file']}" if p.get("license_file") else "no license_file either"
        packages.append(Package("cargo", p["name"], p["version"], p.get("license"), note))
    resolved = {(p.name, p.version) for p in packages}
    unresolved = []
    if lock_path.exists():
        lock = lock_path.read_text()
        for name, version in re.findall(r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', lock):
            if (name, version) not in resolved:
                unresolved.append(f"{name} {version}")
    return packages, unresolved


def npm_licence(entry: dict) -> str | None:
    """`license` as a string or `{type}`, or the old `licenses` list (joined with OR)."""
    licence = entry.get("license")
    if isinstance(licence, dict):
        licence = licence.get("type")
    if isinstance(licence, str) and licence.strip():
        return licence.strip()
    old = entry.get("licenses")
    if isinstance(old, list):
        names = [x.get("type") if isinstance(x, dict) else x for x in old]
        names = [n for n in names if isinstance(n, str) and n.strip()]
        if names:
            return " OR ".join(names)
    return None


def npm_packages(contracts: Path) -> list[Package]:
    """The packages of the npm project in `contracts` (a folder with a package-lock.json)."""
    lock = json.loads((contracts / "package-lock.json").read_text())
    if lock.get("lockfileVersion", 0) < 2 or "packages" not in lock:
        raise SystemExit(f"{contracts}/package-lock.json: expected lockfileVersion 2 or 3 with `packages`")
    packages = []
    for path, entry in lock["packages"].items():
        if entry.get("link"):
            continue  # a symlink to a local folder, listed under its own path too
        name = entry.get("name") or (path.rsplit("node_modules/", 1)[-1] if path else "(root)")
        licence = npm_licence(entry)
        note = ""
        if licence is None and path:
            manifest = contracts / path / "package.json"
            if manifest.exists():
                licence = npm_licence(json.loads(manifest.read_text()))
                note = f"none in {path}/package.json either"
            else:
                note = f"{path} is not installed: run scripts/npm-deps.sh to look in its package.json"
        packages.append(Package("npm", name, entry.get("version", "?"), licence, note))
    return packages


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    try:
        metadata = json.load(sys.stdin)
    except json.JSONDecodeError as e:
        print(f"check-licenses: cargo metadata output is not JSON: {e}", file=sys.stderr)
        return 2
    report = Report(failures=[], weak={}, excepted=[])
    cargo, unresolved = cargo_packages(metadata, root / "Cargo.lock")
    check(cargo, report)
    # The contracts' tooling and the explorer's browser test (playwright-core).
    npm = npm_packages(root / "contracts") + npm_packages(root / "crates/cocoon/tests/browser")
    check(npm, report)

    print(f"check-licenses: {len(cargo)} crates, {len(npm)} npm packages checked")
    for licence, users in sorted(report.weak.items()):
        print(f"  weak copyleft allowed ({licence}, file-level): {', '.join(users)}")
    for line in report.excepted:
        print(f"  excepted: {line}")
    if unresolved:
        # e.g. cxx's `[target."cfg(any())".build-dependencies] cxxbridge-cmd`, a never-true cfg
        # that only pins the version in Cargo.lock: never downloaded nor built.
        print(f"  not resolved by cargo metadata (never built), skipped: {', '.join(unresolved)}")
    used = {(p.ecosystem, p.name, p.version) for p in cargo + npm}
    for key in sorted(set(EXCEPTIONS) - used):
        print(f"  warning: stale exception (no such package any more): {' '.join(key)}")
    if report.failures:
        print(f"check-licenses: {len(report.failures)} package(s) FAIL:", file=sys.stderr)
        for line in report.failures:
            print(f"  FAIL {line}", file=sys.stderr)
        return 1
    print("check-licenses: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
