"""An outside witness: fetch a deployment's public checkpoints, check them, remember them in a JSON file.

Anyone may run it (the township's deployment, a villager's laptop, an auditor); it needs no login and no
database, only HTTP(S) to the deployment. What it remembers is what makes a rewrite of history visible:
a deployment that publishes a different hash for a sequence number a witness saw before (equivocation),
a checkpoint whose signature fails, a changed public key, or a checkpoint withdrawn are all refused, the
store is left as it was, and the run exits non-zero naming village, seq, old and new hash.

The store (`FORMAT`) is:
    {"format": "merit-bank-witness/1",
     "deployments": {"<base url>": {"ed25519_public_key": str, "first_pulled_at": str, "last_pulled_at": str,
                                   "villages": {"<code>": {"name": str, "checkpoints": [
                                       {"village_code", "seq", "hash", "at", "signature"}, ...]}}}}}
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import signing

FORMAT = "merit-bank-witness/1"
CHECKPOINT_FIELDS = ("village_code", "seq", "hash", "at", "signature")


class WitnessError(Exception):
    """The deployment could not be read, or a file is not what it should be."""


@dataclass
class PullReport:
    url: str
    villages: int = 0
    seen: int = 0
    new: int = 0
    problems: list[str] = field(default_factory=list)
    # Pairs of checkpoints for one seq, both as published: with valid signatures they prove equivocation.
    evidence: list[dict[str, Any]] = field(default_factory=list)


def normalize_url(url: str) -> str:
    parsed = urllib.parse.urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise WitnessError(f"not an http(s) URL: {url!r}")
    return url.strip().rstrip("/")


def fetch_json(url: str, timeout: float = 30) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise WitnessError(f"GET {url} answered {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise WitnessError(f"GET {url} failed: {exc}") from exc


def fetch_deployment(base_url: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """(public key, {code: {name, items}}) as the deployment publishes them now."""
    base = normalize_url(base_url)
    keys = fetch_json(f"{base}/api/v1/public/keys")
    key = keys.get("ed25519_public_key") if isinstance(keys, dict) else None
    if not isinstance(key, str):
        raise WitnessError(f"{base}/api/v1/public/keys has no ed25519_public_key")
    listing = fetch_json(f"{base}/api/v1/public/villages")
    villages: dict[str, dict[str, Any]] = {}
    for village in listing.get("items", []) if isinstance(listing, dict) else []:
        code = str(village["code"])
        answer = fetch_json(f"{base}/api/v1/public/villages/{urllib.parse.quote(code)}/checkpoints")
        items = answer.get("items", []) if isinstance(answer, dict) else []
        villages[code] = {"name": village.get("name", ""), "items": items}
    return key, villages


def check_signatures(key: str, code: str, items: list[dict[str, Any]]) -> list[str]:
    """A sentence for each checkpoint that is malformed, of another village, or not signed by `key`."""
    problems = []
    for item in items:
        if not isinstance(item, dict) or any(f not in item for f in CHECKPOINT_FIELDS):
            problems.append(f"MALFORMED checkpoint of village {code}: {item!r}")
        elif item["village_code"] != code:
            problems.append(f"WRONG VILLAGE: village {code} lists a checkpoint of {item['village_code']!r}")
        elif not signing.verify(key, item):
            problems.append(
                f"BAD SIGNATURE: village {code} seq {item['seq']} hash {item['hash']} at {item['at']}: "
                f"not signed by the published key {key}"
            )
    return problems


def load_store(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"format": FORMAT, "deployments": {}}
    try:
        store = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WitnessError(f"the witness store {path} cannot be read: {exc}") from exc
    if not isinstance(store, dict) or store.get("format") != FORMAT:
        raise WitnessError(f"{path} is not a witness store ({FORMAT})")
    return store


def _save_store(path: Path, store: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the store and rename: a crash never leaves half a memory behind.
    fd, tmp = tempfile.mkstemp(prefix=".witness-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(store, out, ensure_ascii=False, indent=1, sort_keys=True)
    os.replace(tmp, path)


def save_evidence(store_path: Path, report: PullReport) -> Path | None:
    """Keep what the deployment published against what this witness saw, beside the store."""
    if not report.evidence:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = store_path.with_name(f"{store_path.name}.equivocation-{stamp}.json")
    _save_store(path, {"format": f"{FORMAT}/evidence", "items": report.evidence})
    return path


def pull(base_url: str, store_path: Path) -> PullReport:
    """Fetch, check and remember a deployment's checkpoints; problems leave the store untouched."""
    url = normalize_url(base_url)
    store = load_store(store_path)
    report = PullReport(url)
    key, villages = fetch_deployment(url)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    known = store["deployments"].get(url)
    if known is not None and known["ed25519_public_key"] != key:
        report.problems.append(
            f"PUBLIC KEY CHANGED: {url} published {known['ed25519_public_key']} before, now {key}"
        )
    merged: dict[str, Any] = {}
    for code, village in villages.items():
        report.villages += 1
        items = village["items"]
        report.seen += len(items)
        report.problems.extend(check_signatures(key, code, items))
        old = {c["seq"]: c for c in (known or {}).get("villages", {}).get(code, {}).get("checkpoints", [])}
        current = {c.get("seq"): c for c in items if isinstance(c, dict)}
        for seq, before in sorted(old.items()):
            after = current.get(seq)
            if after is None:
                report.problems.append(
                    f"WITHDRAWN: village {code} seq {seq} hash {before['hash']} (signed {before['at']}) "
                    f"is no longer published"
                )
            elif after.get("hash") != before["hash"]:
                report.evidence.append({"url": url, "public_key": key, "before": before, "now": after})
                report.problems.append(
                    f"EQUIVOCATION: village {code} seq {seq}: this witness saw hash {before['hash']} "
                    f"(signed {before['at']}), the deployment now publishes hash {after.get('hash')} "
                    f"(signed {after.get('at')})"
                )
        # What was seen first is what is kept: a re-signed copy of the same hash adds nothing.
        keep = dict(old)
        for seq, item in current.items():
            if seq not in keep:
                keep[seq] = {f: item.get(f) for f in CHECKPOINT_FIELDS}
                report.new += 1
        merged[code] = {"name": village["name"], "checkpoints": [keep[s] for s in sorted(keep)]}
    for code, village in (known or {}).get("villages", {}).items():
        if code not in villages and village.get("checkpoints"):
            report.problems.append(
                f"WITHDRAWN: village {code} and its {len(village['checkpoints'])} checkpoints "
                "are no longer published"
            )
    if report.problems:
        return report
    store["deployments"][url] = {
        "ed25519_public_key": key,
        "first_pulled_at": (known or {}).get("first_pulled_at", now),
        "last_pulled_at": now,
        "villages": merged,
    }
    _save_store(store_path, store)
    return report


def load_remembered(source: str, local_key: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Checkpoints to check a chain against: from a witness store, a checkpoints file or a deployment URL.

    Returns (checkpoints, problems). A witness store contributes the checkpoints it holds for deployments
    whose key is `local_key` (this deployment's); a plain file ({items: [...]} or a list) is checked against
    `local_key`; a URL against the key that deployment publishes. A bad signature is a problem.
    """
    if source.startswith(("http://", "https://")):
        key, villages = fetch_deployment(source)
        items, problems = [], []
        for code, village in villages.items():
            problems.extend(check_signatures(key, code, village["items"]))
            items.extend(village["items"])
        return items, problems
    path = Path(source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WitnessError(f"{source} cannot be read as JSON: {exc}") from exc
    if isinstance(data, dict) and data.get("format") == FORMAT:
        items = []
        for deployment in data.get("deployments", {}).values():
            if deployment.get("ed25519_public_key") != local_key:
                continue
            for village in deployment.get("villages", {}).values():
                items.extend(village.get("checkpoints", []))
        if not items:
            return [], [
                f"the witness store {source} holds no checkpoints signed by this deployment's key {local_key}"
            ]
    elif isinstance(data, dict) and isinstance(data.get("items"), list):
        items = data["items"]
    elif isinstance(data, list):
        items = data
    else:
        raise WitnessError(f"{source} is neither a witness store nor a list of checkpoints")
    problems = []
    for item in items:
        code = item.get("village_code") if isinstance(item, dict) else None
        problems.extend(check_signatures(local_key, str(code), [item]))
    return items, problems
