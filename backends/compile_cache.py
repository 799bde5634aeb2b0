"""The compile cache: every NEFF a compiler made, stored under a key of all that decided it.

A real neuron-cc run takes minutes to hours, and most clusters of a model compiled again, or of
a model changed in one layer, are byte for byte the clusters of the last compile. The key is a
SHA-256 of the compiler's name and `--version`, its command line with the compiler's path
left out (the io-config is on it), and the bytes of every input file of the job (the cluster's
GraphDef or HLO module). Anything that could change the NEFF changes the key; a folder name or
a workdir path does not.

Layout, under the cache folder (`--cache-dir`, else NIR_CACHE_DIR, else ~/.cache/nir):

    compile/<k[:2]>/<k>/entry.json   what was compiled, by which compiler, the NEFF's SHA-256
    compile/<k[:2]>/<k>/<neff file>   the NEFF
    compile/<k[:2]>/<k>/compile.log   the compiler's log of that run
    compile/tmp/                      entries being written

An entry is written complete in `tmp/` and renamed into place, so a concurrent compile or a
killed process never leaves half an entry where a reader looks; a reader checks the NEFF's
size and hash before trusting it and drops an entry that fails.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

from backends.compile_jobs import EmittedCluster

logger = logging.getLogger("nir")
FORMAT = 1
ENTRY_FILE = "entry.json"
LOG_FILE = "compile.log"
_OFF = ("0", "off", "false", "no")


def default_cache_root() -> str:
    """nir's cache folder: NIR_CACHE_DIR, else $XDG_CACHE_HOME/nir, else ~/.cache/nir."""
    if os.environ.get("NIR_CACHE_DIR"):
        return os.environ["NIR_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "nir")


def cache_enabled_by_default() -> bool:
    """NIR_COMPILE_CACHE=0|off|false|no turns the compile cache off where no option says."""
    return os.environ.get("NIR_COMPILE_CACHE", "on").strip().lower() not in _OFF


@functools.lru_cache(maxsize=16)
def _version_of(path: str, mtime_ns: int, size: int) -> str | None:
    try:
        run = subprocess.run([path, "--version"], capture_output=True, timeout=120, text=True)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (run.stdout or run.stderr).strip()
    return text if run.returncode == 0 and text else None


def compiler_version(path: str) -> str | None:
    """What `<compiler> --version` prints, asked once per compiler binary; None if it fails."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _version_of(os.path.realpath(path), st.st_mtime_ns, st.st_size)


@dataclass(frozen=True)
class CacheInfo:
    root: str
    entries: int
    bytes: int
    compilers: dict[str, int]
    oldest: float | None
    newest: float | None


@dataclass(frozen=True)
class CompileCache:
    root: str  # nir's cache folder; entries live in its compile/ subfolder

    @property
    def folder(self) -> str:
        return os.path.join(self.root, "compile")

    @staticmethod
    def key(cluster: EmittedCluster, version: str) -> str:
        digest = hashlib.sha256()
        header = {
            "format": FORMAT,
            "compiler": cluster.compiler,
            "version": version,
            "command": _portable_command(cluster),
            "inputs": list(cluster.inputs),
        }
        digest.update(json.dumps(header, sort_keys=True).encode())
        for name in cluster.inputs:
            digest.update(b"\0" + name.encode() + b"\0")
            _hash_file(digest, os.path.join(cluster.folder, name))
        return digest.hexdigest()

    def _entry(self, key: str) -> str:
        return os.path.join(self.folder, key[:2], key)

    def restore(self, key: str, cluster: EmittedCluster) -> bool:
        """Put the cached NEFF of `key` into the cluster's folder; False if there is none (or
        only a damaged one, which is dropped)."""
        entry = self._entry(key)
        try:
            with open(os.path.join(entry, ENTRY_FILE)) as f:
                meta = json.load(f)
            neff = os.path.join(entry, meta["neff_file"])
            if os.path.getsize(neff) != meta["neff_bytes"] or _sha256(neff) != meta["neff_sha256"]:
                raise ValueError("the NEFF does not match its recorded size and hash")
        except FileNotFoundError:
            return False
        except (OSError, ValueError, KeyError, TypeError) as err:
            logger.warning("compile cache entry %s is damaged (%s); dropping it", entry, err)
            self._remove(entry)
            return False
        _copy_atomically(neff, cluster.neff)
        with open(cluster.log, "w") as log:
            log.write(
                f"nir: {cluster.neff_file} taken from the compile cache ({entry}), compiled "
                f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(meta['created']))} by "
                f"{meta['compiler']} ({meta['version']}). That run's log follows.\n"
            )
            try:
                with open(os.path.join(entry, LOG_FILE), errors="replace") as cached_log:
                    shutil.copyfileobj(cached_log, log)
            except OSError:
                pass
        return True

    def store(self, key: str, cluster: EmittedCluster, version: str) -> None:
        """Keep the cluster's NEFF under `key`. Best effort: a cache that cannot be written
        costs the next compile time, never this one its result."""
        entry = self._entry(key)
        if os.path.isdir(entry):
            return
        staging = None
        try:
            os.makedirs(os.path.join(self.folder, "tmp"), exist_ok=True)
            staging = tempfile.mkdtemp(prefix=key[:12] + "-", dir=os.path.join(self.folder, "tmp"))
            shutil.copyfile(cluster.neff, os.path.join(staging, cluster.neff_file))
            if os.path.isfile(cluster.log):
                shutil.copyfile(cluster.log, os.path.join(staging, LOG_FILE))
            meta = {
                "format": FORMAT, "key": key, "compiler": cluster.compiler, "version": version,
                "command": _portable_command(cluster),
                "cluster": cluster.name, "created": time.time(), "neff_file": cluster.neff_file,
                "neff_bytes": os.path.getsize(cluster.neff), "neff_sha256": _sha256(cluster.neff),
            }
            with open(os.path.join(staging, ENTRY_FILE), "w") as f:
                json.dump(meta, f, indent=2, sort_keys=True)
            os.makedirs(os.path.dirname(entry), exist_ok=True)
            os.rename(staging, entry)  # atomic; fails if a concurrent compile stored it first
            staging = None
        except OSError as err:
            if not os.path.isdir(entry):
                logger.warning("could not store %s in the compile cache %s: %s", cluster.name, self.folder, err)
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)

    def entries(self) -> list[dict]:
        found = []
        if not os.path.isdir(self.folder):
            return found
        for shard in sorted(os.listdir(self.folder)):
            if shard == "tmp" or not os.path.isdir(os.path.join(self.folder, shard)):
                continue
            for key in sorted(os.listdir(os.path.join(self.folder, shard))):
                if "." in key:  # an entry being deleted
                    continue
                entry = os.path.join(self.folder, shard, key)
                try:
                    with open(os.path.join(entry, ENTRY_FILE)) as f:
                        meta = json.load(f)
                except (OSError, ValueError):
                    meta = {"key": key, "compiler": "?", "created": os.path.getmtime(entry)}
                meta["path"] = entry
                meta["disk_bytes"] = _folder_bytes(entry)
                found.append(meta)
        return found

    def info(self) -> CacheInfo:
        entries = self.entries()
        compilers: dict[str, int] = {}
        for e in entries:
            compilers[e.get("compiler", "?")] = compilers.get(e.get("compiler", "?"), 0) + 1
        created = [e["created"] for e in entries if "created" in e]
        return CacheInfo(
            self.folder, len(entries), sum(e["disk_bytes"] for e in entries), compilers,
            min(created) if created else None, max(created) if created else None,
        )

    def clear(self, older_than_seconds: float | None = None) -> int:
        """Remove every entry (or those created more than `older_than_seconds` ago), and
        staging folders left by killed processes; returns the number of entries removed."""
        now = time.time()
        removed = 0
        for e in self.entries():
            if older_than_seconds is None or now - e.get("created", now) > older_than_seconds:
                self._remove(e["path"])
                removed += 1
        staging = os.path.join(self.folder, "tmp")
        if os.path.isdir(staging):
            for name in os.listdir(staging):
                path = os.path.join(staging, name)
                # A staging folder younger than an hour may belong to a compile still running.
                with contextlib.suppress(OSError):
                    if now - os.path.getmtime(path) > 3600:
                        shutil.rmtree(path, ignore_errors=True)
        return removed

    def _remove(self, entry: str) -> None:
        # Renamed away first, so no reader ever sees an entry half deleted.
        doomed = entry + f".deleting-{os.getpid()}-{time.monotonic_ns()}"
        try:
            os.rename(entry, doomed)
        except OSError:
            return
        shutil.rmtree(doomed, ignore_errors=True)


def _portable_command(cluster: EmittedCluster) -> list[str]:
    """The command line with the compiler named, not located: the same compiler version
    installed elsewhere makes the same NEFF."""
    return [os.path.basename(cluster.command[0]), *cluster.command[1:]]


def _hash_file(digest, path: str) -> None:
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    _hash_file(digest, path)
    return digest.hexdigest()


def _folder_bytes(folder: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, name))
            except OSError:
                pass
    return total


def _copy_atomically(source: str, destination: str) -> None:
    fd, staging = tempfile.mkstemp(dir=os.path.dirname(destination), prefix=".neff-")
    os.close(fd)
    try:
        shutil.copyfile(source, staging)
        os.replace(staging, destination)
    except BaseException:
        os.unlink(staging)
        raise
