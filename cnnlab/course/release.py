"""The build hash: how a notebook written by ``cnnlab build`` is told from one a person changed.

Every notebook ``cnnlab build`` writes records ``metadata.cnnlab.build_sha256``: the SHA-256 of
the notebook's canonical JSON (keys sorted, no spaces, UTF-8) without that one field. While the
file still hashes to what it records, nobody has changed it and a new build may replace it.
Once a person saves it (new code, outputs, anything), the hash no longer matches: the file holds
their work, and ``cnnlab build`` refuses to overwrite it unless ``--force`` first moves it to a
backup (:func:`back_up`), which is never overwritten either.

The recorded hash also says which release a copy came from: ``cnnlab lab`` compares it with
the release's to see that a lesson was updated since the student's copy was made.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from .notebook import dumps

HASH_KEY = "build_sha256"
BACKUP = ".backup"


def _canonical(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def content_hash(data: dict) -> str:
    """The SHA-256 of notebook JSON ``data`` (as read from its file) without its recorded hash."""
    meta = data.get("metadata")
    cnnlab = meta.get("cnnlab") if isinstance(meta, dict) else None
    if isinstance(cnnlab, dict) and HASH_KEY in cnnlab:
        cnnlab = {k: v for k, v in cnnlab.items() if k != HASH_KEY}
        data = {**data, "metadata": {**meta, "cnnlab": cnnlab}}
    return hashlib.sha256(_canonical(data)).hexdigest()


def recorded_hash(data) -> str | None:
    """The build hash a notebook records (None when it records none)."""
    meta = data.get("metadata") if isinstance(data, dict) else None
    cnnlab = meta.get("cnnlab") if isinstance(meta, dict) else None
    value = cnnlab.get(HASH_KEY) if isinstance(cnnlab, dict) else None
    return value if isinstance(value, str) else None


def stamp(nb) -> None:
    """Record the build hash in notebook ``nb`` (a NotebookNode, changed in place): the hash of
    the JSON its file will hold (:func:`cnnlab.course.notebook.dumps`)."""
    nb.metadata.setdefault("cnnlab", {}).pop(HASH_KEY, None)
    nb.metadata["cnnlab"][HASH_KEY] = content_hash(json.loads(dumps(nb)))


def load(text: str):
    """Notebook JSON from file text, or None when the text is not a JSON object."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def identity(data: dict) -> str:
    """Which release a notebook is: the hash it records, else the hash of its content."""
    return recorded_hash(data) or content_hash(data)


def unchanged_since_build(text: str, expected: str | None = None) -> bool:
    """Whether notebook file text ``text`` holds nothing a person wrote: it still hashes to the
    build hash it records, or (a file from a build that recorded no hash) it equals ``expected``
    in everything but that hash."""
    data = load(text)
    if data is None:
        return False
    digest = content_hash(data)
    if recorded_hash(data) == digest:
        return True
    other = load(expected) if expected is not None else None
    return other is not None and content_hash(other) == digest


def back_up(path: Path, folder: Path | None = None) -> Path:
    """Move the file at ``path`` to ``folder`` (default: ``.backup/`` beside it) as
    ``<stem>.<UTC time><suffix>`` and return the new path. An existing backup is never
    overwritten: another one in the same second gets ``-2``, ``-3``, ... before the suffix."""
    path = Path(path)
    folder = Path(folder) if folder is not None else path.parent / BACKUP
    folder.mkdir(parents=True, exist_ok=True)
    when = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    data = path.read_bytes()
    for n in range(1, 1000):
        target = folder / f"{path.stem}.{when}{'' if n == 1 else f'-{n}'}{path.suffix}"
        try:
            with open(target, "xb") as f:  # "x": fails instead of replacing an earlier backup
                f.write(data)
        except FileExistsError:
            continue
        path.unlink()
        return target
    raise FileExistsError(f"no free backup name for {path} in {folder}")
