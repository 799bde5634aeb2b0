"""Mutation score of nir's compiler packages: how many planted bugs the tests catch.

mutmut (the `mutation` extra) plants one small change at a time -- an operator, a constant, a
condition, a returned value -- in `passes/`, `backends/`, `frontends/tensorflow/` and `nir/ir/`
(the scope in pyproject.toml's [tool.mutmut]), and runs the tests that reach the changed function.
A mutant is killed when one of them fails or it runs past its time limit (an infinite loop is a
bug caught); it survives when they all pass, and counts as uncovered when no selected test reaches
the function at all. Uncovered mutants count against the score: nothing would catch them.

The scope holds about 16,000 mutants, days of CPU; this takes a seeded random sample of each
package (`--sample` mutants each) so the figure comes in bounded time, with its 95% interval. It
runs in a copy of the checkout (mutmut writes a `mutants/` tree beside the code), keeps the test
models of the zoo between mutants (NIR_TEST_ZOO), and writes one JSON record: per package the
counts and the score, and every survivor with its diff, for benchmarks/README.md to argue each
one killed or equivalent.

    python benchmarks/mutation.py --sample 80 --json benchmarks/mutation.json

Not part of the test suite: a run takes tens of minutes (benchmarks/README.md gives the figure).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("passes", "backends", "frontends/tensorflow", "nir/ir")
# What mutmut's exit codes mean (mutmut.stats.status_by_exit_code), folded into what the score
# counts: a timeout is a caught bug, a segfault too; "suspicious" and "not checked" are neither
# and are reported apart.
CAUGHT = {"killed", "timeout", "segfault"}
MISSED = {"survived", "no tests"}


def package_of(mutant: str) -> str:
    """`passes.dce.x_remove_dead_ops__mutmut_3` -> `passes`."""
    dotted = mutant.split(".x", 1)[0].replace(".", "/")
    for package in sorted(PACKAGES, key=len, reverse=True):
        if dotted == package or dotted.startswith(package + "/"):
            return package
    raise ValueError(f"mutant {mutant} is outside the scope {PACKAGES}")


def copy_checkout(destination: str) -> None:
    """The files git tracks (and the working tree's edits of them), without build leftovers."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in tracked.decode().split("\0"):
        if name and os.path.isfile(os.path.join(ROOT, name)):
            os.makedirs(os.path.join(destination, os.path.dirname(name)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, name), os.path.join(destination, name))


def checkout_commit() -> str:
    """The commit measured, marked when the working tree had edits (the copy takes them)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return head + ("+edits" if dirty else "")


def run_mutmut(workdir: str, names: list[str], jobs: int, log) -> None:
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs), *names]
    subprocess.run(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, check=False,
                   env={**os.environ, "NIR_TEST_ZOO": os.path.join(workdir, ".zoo")})


def all_mutants(workdir: str) -> dict[str, int | None]:
    """Every mutant mutmut generated, with its exit code (None until it ran)."""
    codes: dict[str, int | None] = {}
    for meta in glob.glob(os.path.join(workdir, "mutants", "**", "*.meta"), recursive=True):
        with open(meta) as f:
            codes.update(json.load(f)["exit_code_by_key"])
    return codes


def status_of(code: int | None) -> str:
    from mutmut.stats import status_by_exit_code

    return status_by_exit_code[code]


def sample_by_package(names, per_package: int, seed: int) -> dict[str, list[str]]:
    """The `per_package` mutants of each package that rank first by a hash of the seed and
    their name. A mutant's name is its function's and its number within it, so a change to one
    function leaves every other function's mutants in or out of the sample as they were, and a
    survivor stays in the next run to be seen killed (a draw over the sorted list of all names
    drew another sample after any change)."""
    by_package: dict[str, list[str]] = {p: [] for p in PACKAGES}
    for name in names:
        by_package[package_of(name)].append(name)

    def rank(name: str) -> str:
        return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()

    return {p: sorted(sorted(ns, key=rank)[:per_package]) for p, ns in by_package.items()}


def wilson_interval(caught: int, total: int) -> tuple[float, float]:
    """95% interval of a proportion measured on a sample (Wilson's, sound near 0 and 1)."""
    if total == 0:
        return (0.0, 1.0)
    z, p = 1.96, caught / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return (max(0.0, centre - half), min(1.0, centre + half))


def diff_of(workdir: str, name: str) -> str:
    shown = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=workdir, capture_output=True, text=True)
    return shown.stdout.strip()


def check_mutants_ran(workdir: str, sample: dict[str, list[str]]) -> None:
    """mutmut ends without running a mutant when its first, clean run of the selected tests
    fails; it says only that ("failed to collect stats"), so say where to look."""
    codes = all_mutants(workdir)
    if all(codes.get(n) is None for ns in sample.values() for n in ns):
        raise RuntimeError(
            f"mutmut ran no mutant (see {workdir}/mutmut.log); if it failed to collect stats, a selected test "
            f"fails unmutated: run the selection once in {workdir}/mutants with MUTANT_UNDER_TEST=stats to see which")


def score(workdir: str, sample: dict[str, list[str]]) -> dict:
    codes = all_mutants(workdir)
    packages, survivors = {}, []
    for package, names in sample.items():
        statuses = [status_of(codes.get(n)) for n in names]
        caught = sum(s in CAUGHT for s in statuses)
        counted = sum(s in CAUGHT | MISSED for s in statuses)
        low, high = wilson_interval(caught, counted)
        packages[package] = {
            "mutants": sum(package_of(n) == package for n in codes), "sampled": len(names),
            **{status: statuses.count(status) for status in sorted(set(statuses))},
            "score": round(caught / counted, 4) if counted else None, "interval95": [round(low, 4), round(high, 4)],
        }
        survivors += [{"mutant": n, "status": s, "diff": diff_of(workdir, n)}
                      for n, s in zip(names, statuses) if s in MISSED]
    caught = sum(status_of(codes.get(n)) in CAUGHT for ns in sample.values() for n in ns)
    counted = sum(status_of(codes.get(n)) in CAUGHT | MISSED for ns in sample.values() for n in ns)
    return {"packages": packages, "score": round(caught / counted, 4) if counted else None,
            "interval95": [round(x, 4) for x in wilson_interval(caught, counted)], "survivors": survivors}


def measure(per_package: int, seed: int, jobs: int, workdir: str | None = None) -> dict:
    """Copy the checkout, generate every mutant, run a sample of each package; the record."""
    own = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="nir-mutation-")
    started = time.time()
    commit = checkout_commit()  # now, as the copy is taken: the checkout may move on during the run
    try:
        if not os.path.exists(os.path.join(workdir, "pyproject.toml")):
            copy_checkout(workdir)
        with open(os.path.join(workdir, "mutmut.log"), "a") as log:
            # The first run generates every mutant and records which tests reach which function;
            # it needs one mutant to run, and mutmut first runs that mutant's tests unmutated: one
            # of a function few tests reach (the cache folder's default) keeps that short.
            run_mutmut(workdir, ["backends.compile_cache.x_default_cache_root__mutmut_1"], jobs, log)
            sample = sample_by_package(all_mutants(workdir), per_package, seed)
            run_mutmut(workdir, [n for ns in sample.values() for n in ns], jobs, log)
        check_mutants_ran(workdir, sample)
        record = score(workdir, sample)
        record.update(seed=seed, sample_per_package=per_package, seconds=round(time.time() - started, 1),
                      commit=commit)
        return record
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


def summary(record: dict) -> str:
    lines = ["| package | mutants | sampled | killed | timeout | survived | no tests | score (95% interval) |",
             "|---|---|---|---|---|---|---|---|"]
    for package, row in record["packages"].items():
        low, high = row["interval95"]
        lines.append(f"| {package} | {row['mutants']} | {row['sampled']} | {row.get('killed', 0)} | "
                     f"{row.get('timeout', 0)} | {row.get('survived', 0)} | {row.get('no tests', 0)} | "
                     f"{row['score']:.1%} ({low:.0%}–{high:.0%}) |")
    low, high = record["interval95"]
    lines.append(f"| all | | | | | | | {record['score']:.1%} ({low:.0%}–{high:.0%}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=80, help="mutants per package")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--workdir", help="run (or resume) in this copy of the checkout, and keep it")
    parser.add_argument("--json", help="write the record here")
    args = parser.parse_args(argv)
    record = measure(args.sample, args.seed, args.jobs, args.workdir)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1, sort_keys=True)
            f.write("\n")
    print(summary(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
