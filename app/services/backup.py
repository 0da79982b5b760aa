"""Database backups in the layout `mongodump --gzip --out DIR` writes, so either tool reads them:

    DIR/rms-backup.json                         our manifest: counts and sha256 per collection
    DIR/<db>/<collection>.bson.gz               the documents, raw BSON, one after another
    DIR/<db>/<collection>.metadata.json.gz      {"options", "indexes", "uuid", "collectionName"}

Documents are copied as raw BSON (`RawBSONDocument`) both ways, so a restore into an empty
database reproduces every document byte for byte. Consistency: on a replica set (and SecantusDB)
all collections are read in one snapshot session, i.e. at one point in time; where snapshot reads
are not available (a standalone mongod) each collection is still read in a single cursor.

A restore validates the whole archive (gzip CRCs, BSON framing, manifest counts and checksums,
metadata) before it writes anything: a truncated or corrupt archive fails and touches nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import shutil
import struct
import uuid
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, cast

import orjson
from bson import CodecOptions, json_util
from bson.binary import Binary
from bson.json_util import CANONICAL_JSON_OPTIONS
from bson.raw_bson import RawBSONDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConfigurationError, InvalidOperation, OperationFailure

from app.clock import utcnow

Db = AsyncDatabase[dict[str, Any]]

MANIFEST_NAME = "rms-backup.json"
FORMAT = "rms-backup/1"
BSON_SUFFIX = ".bson.gz"
METADATA_SUFFIX = ".metadata.json.gz"
# Proposed setting `BACKUP_DIR`: where `rms backup create` puts timestamped backups.
DEFAULT_BACKUP_DIR = "backups"
INSERT_BATCH_DOCUMENTS = 1000
INSERT_BATCH_BYTES = 8 * 1024 * 1024
WRITE_BATCH_BYTES = 1024 * 1024
_RAW: CodecOptions[RawBSONDocument] = CodecOptions(document_class=RawBSONDocument)
# SnapshotUnavailable (standalone), InvalidOptions (snapshot not allowed here).
SNAPSHOT_UNAVAILABLE_CODES = {246, 72}
_MAX_BSON_SIZE = 16 * 1024 * 1024 + 16 * 1024  # 16 MiB plus the server's headroom


class BackupError(Exception):
    """The backup or restore cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class CollectionEntry:
    name: str
    documents: int
    bson_bytes: int  # uncompressed
    bson_sha256: str  # of the uncompressed BSON stream
    indexes: int


@dataclass(frozen=True, slots=True)
class BackupManifest:
    database: str
    created_at: datetime
    snapshot: bool  # read at one point in time
    collections: list[CollectionEntry] = field(default_factory=list)
    format: str = FORMAT

    def to_json(self) -> bytes:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return orjson.dumps(data, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, raw: bytes) -> BackupManifest:
        try:
            data = orjson.loads(raw)
            if data.get("format") != FORMAT:
                raise BackupError(f"unsupported backup format {data.get('format')!r}")
            return cls(
                database=str(data["database"]),
                created_at=datetime.fromisoformat(data["created_at"]),
                snapshot=bool(data["snapshot"]),
                collections=[CollectionEntry(**entry) for entry in data["collections"]],
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise BackupError(f"{MANIFEST_NAME} is not a valid manifest: {exc}") from exc

    @property
    def documents(self) -> int:
        return sum(entry.documents for entry in self.collections)


@dataclass(frozen=True, slots=True)
class RestoredCollection:
    name: str
    documents: int
    indexes: int


def _raw_collection(db: Db, name: str) -> AsyncCollection[RawBSONDocument]:
    """Documents as undecoded BSON bytes: what is read is exactly what gets written back."""
    return cast("AsyncCollection[RawBSONDocument]", db.get_collection(name, codec_options=_RAW))


# --- create --------------------------------------------------------------------------------
def default_backup_path(root: Path, now: datetime | None = None) -> Path:
    return root / (now or utcnow()).strftime("%Y%m%dT%H%M%SZ")


async def _collections_to_dump(db: Db) -> list[dict[str, Any]]:
    infos = [dict(info) async for info in await db.list_collections()]
    return sorted(
        (
            info
            for info in infos
            if info.get("type", "collection") == "collection"
            and not str(info["name"]).startswith("system.")
        ),
        key=lambda info: str(info["name"]),
    )


def _snapshot_unsupported(exc: Exception) -> bool:
    """Standalone servers and old versions refuse snapshot reads; anything else is a real error."""
    if isinstance(exc, ConfigurationError | InvalidOperation):
        return "snapshot" in str(exc).lower()
    return isinstance(exc, OperationFailure) and (
        exc.code in SNAPSHOT_UNAVAILABLE_CODES or "snapshot" in str(exc).lower()
    )


def _metadata_json(info: dict[str, Any], indexes: list[dict[str, Any]]) -> bytes:
    uuid_value = info.get("info", {}).get("uuid")
    metadata: dict[str, Any] = {
        "indexes": indexes,
        "uuid": uuid_value.hex() if isinstance(uuid_value, Binary | bytes) else "",
        "collectionName": info["name"],
        "type": "collection",
        "options": info.get("options", {}),
    }
    return json_util.dumps(metadata, json_options=CANONICAL_JSON_OPTIONS).encode()


def _start_partial(out: Path, database: str) -> tuple[Path, Path]:
    out = out.resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} already exists and is not an empty directory")
    partial = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    (partial / database).mkdir(parents=True)
    return out, partial


def _finish_partial(partial: Path, out: Path, manifest: BackupManifest) -> None:
    (partial / MANIFEST_NAME).write_bytes(manifest.to_json())
    if out.exists():
        out.rmdir()
    partial.rename(out)


async def create_backup(db: Db, out: Path, *, now: datetime | None = None) -> BackupManifest:
    """Dump every collection of `db` into `out` (which must not exist or be empty).

    Written into a hidden sibling directory first and renamed at the end, so an interrupted
    backup never looks like a complete one. File writes run in a thread, in batches.
    """
    out, partial = await asyncio.to_thread(_start_partial, out, db.name)
    try:
        try:
            entries = await _dump_all(db, partial / db.name, snapshot=True)
            snapshot = True
        except (OperationFailure, ConfigurationError, InvalidOperation) as exc:
            if not _snapshot_unsupported(exc):
                raise
            await asyncio.to_thread(_empty_directory, partial / db.name)
            entries = await _dump_all(db, partial / db.name, snapshot=False)
            snapshot = False
        manifest = BackupManifest(
            database=db.name, created_at=now or utcnow(), snapshot=snapshot, collections=entries
        )
        await asyncio.to_thread(_finish_partial, partial, out, manifest)
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, partial, True)
        raise
    return manifest


async def _dump_all(db: Db, directory: Path, *, snapshot: bool) -> list[CollectionEntry]:
    """Every collection, each in one cursor; all inside one snapshot session if asked."""
    session = db.client.start_session(snapshot=True) if snapshot else None
    try:
        return [
            await _dump_collection(db, info, directory, session)
            for info in await _collections_to_dump(db)
        ]
    finally:
        if session is not None:
            await session.end_session()


def _empty_directory(directory: Path) -> None:
    for child in directory.iterdir():
        child.unlink()


async def _dump_collection(
    db: Db, info: dict[str, Any], directory: Path, session: AsyncClientSession | None
) -> CollectionEntry:
    name = str(info["name"])
    collection = _raw_collection(db, name)
    digest = hashlib.sha256()
    documents = size = 0
    pending: list[bytes] = []
    pending_size = 0
    stream = await asyncio.to_thread(gzip.open, directory / f"{name}{BSON_SUFFIX}", "wb")
    try:
        # One cursor per collection (inside the snapshot, when there is one).
        async for document in collection.find({}, session=session):
            raw = bytes(document.raw)
            digest.update(raw)
            pending.append(raw)
            documents += 1
            size += len(raw)
            pending_size += len(raw)
            if pending_size >= WRITE_BATCH_BYTES:
                await asyncio.to_thread(stream.write, b"".join(pending))
                pending, pending_size = [], 0
        await asyncio.to_thread(stream.write, b"".join(pending))
    finally:
        await asyncio.to_thread(stream.close)
    cursor = await db[name].list_indexes()  # outside the snapshot: only reads support it
    indexes = [dict(spec) async for spec in cursor]
    for spec in indexes:
        spec.pop("ns", None)
    await asyncio.to_thread(
        _write_gzip, directory / f"{name}{METADATA_SUFFIX}", _metadata_json(info, indexes)
    )
    return CollectionEntry(name, documents, size, digest.hexdigest(), len(indexes))


def _write_gzip(path: Path, data: bytes) -> None:
    with gzip.open(path, "wb") as stream:
        stream.write(data)


# --- read and validate ---------------------------------------------------------------------
@dataclass(slots=True)
class _ArchivedCollection:
    name: str
    bson_path: Path
    metadata_path: Path | None
    documents: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    indexes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class _Archive:
    root: Path
    database_dir: Path
    manifest: BackupManifest | None
    collections: list[_ArchivedCollection]


def _open(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # a binary IO
    return path.open("rb")


def _iter_bson(stream: IO[bytes], where: str) -> Iterator[bytes]:
    """Split a stream of concatenated BSON documents, checking each one's framing."""
    while True:
        header = stream.read(4)
        if not header:
            return
        if len(header) < 4:
            raise BackupError(f"{where}: truncated (partial document length at the end)")
        (length,) = struct.unpack("<i", header)
        if length < 5 or length > _MAX_BSON_SIZE:
            raise BackupError(f"{where}: corrupt (impossible document length {length})")
        body = stream.read(length - 4)
        if len(body) < length - 4:
            raise BackupError(f"{where}: truncated (last document cut short)")
        if body[-1:] != b"\x00":
            raise BackupError(f"{where}: corrupt (document does not end with a NUL byte)")
        yield header + body


def _locate(path: Path) -> tuple[Path, BackupManifest | None]:
    """Accept the backup directory (with the manifest or one `<db>` dir) or the `<db>` dir."""
    if not path.is_dir():
        raise BackupError(f"{path} is not a backup directory")
    manifest_path = path / MANIFEST_NAME
    if manifest_path.exists():
        manifest = BackupManifest.from_json(manifest_path.read_bytes())
        database_dir = path / manifest.database
        if not database_dir.is_dir():
            raise BackupError(f"{database_dir} is missing: the backup is incomplete")
        return database_dir, manifest
    if any(path.glob("*.bson*")):
        return path, None
    candidates = [d for d in path.iterdir() if d.is_dir() and any(d.glob("*.bson*"))]
    if len(candidates) == 1:
        return candidates[0], None
    raise BackupError(
        f"{path} holds no backup (expected {MANIFEST_NAME} or <db>/<collection>.bson.gz)"
    )


def _collection_files(database_dir: Path) -> dict[str, _ArchivedCollection]:
    found: dict[str, _ArchivedCollection] = {}
    for bson_path in sorted(database_dir.iterdir()):
        for suffix in (BSON_SUFFIX, ".bson"):
            if bson_path.name.endswith(suffix):
                name = bson_path.name[: -len(suffix)]
                metadata = [
                    database_dir / f"{name}.metadata.json.gz",
                    database_dir / f"{name}.metadata.json",
                ]
                found[name] = _ArchivedCollection(
                    name, bson_path, next((m for m in metadata if m.exists()), None)
                )
                break
    return found


def _read_metadata(entry: _ArchivedCollection) -> None:
    if entry.metadata_path is None:
        return
    try:
        with _open(entry.metadata_path) as stream:
            metadata = json_util.loads(stream.read())
    except (OSError, EOFError, ValueError) as exc:
        raise BackupError(f"{entry.metadata_path}: unreadable metadata ({exc})") from exc
    if not isinstance(metadata, dict) or not isinstance(metadata.get("indexes", []), list):
        raise BackupError(f"{entry.metadata_path}: metadata is not an object with indexes")
    entry.options = dict(metadata.get("options") or {})
    entry.indexes = [dict(spec) for spec in metadata.get("indexes", [])]


def read_archive(path: Path) -> _Archive:
    """Open and fully validate an archive without touching any database."""
    database_dir, manifest = _locate(path.resolve())
    files = _collection_files(database_dir)
    if manifest is not None:
        missing = [entry.name for entry in manifest.collections if entry.name not in files]
        if missing:
            raise BackupError(f"backup is incomplete: no data file for {', '.join(missing)}")
    collections = []
    for name, entry in files.items():
        digest = hashlib.sha256()
        where = str(entry.bson_path)
        try:
            with _open(entry.bson_path) as stream:
                for document in _iter_bson(stream, where):
                    digest.update(document)
                    entry.documents += 1
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise BackupError(f"{where}: truncated or corrupt ({exc})") from exc
        if manifest is not None:
            expected = next((e for e in manifest.collections if e.name == name), None)
            if expected is None:
                raise BackupError(f"{where}: not listed in {MANIFEST_NAME}")
            if expected.documents != entry.documents or expected.bson_sha256 != digest.hexdigest():
                raise BackupError(
                    f"{where}: does not match the manifest ({entry.documents} documents read, "
                    f"{expected.documents} expected): truncated or altered"
                )
        _read_metadata(entry)
        collections.append(entry)
    return _Archive(path, database_dir, manifest, collections)


# --- restore -------------------------------------------------------------------------------
async def restore_backup(db: Db, path: Path, *, drop: bool = False) -> list[RestoredCollection]:
    """Restore an archive into `db` with its indexes.

    Without `drop`, every collection in the archive must be absent or empty in `db`; with it,
    those collections are dropped first (collections not in the archive are left alone).
    """
    archive = await asyncio.to_thread(read_archive, path)
    existing = {str(name) for name in await db.list_collection_names()}
    if not drop:
        busy = [
            entry.name
            for entry in archive.collections
            if entry.name in existing and await db[entry.name].estimated_document_count() > 0
        ]
        if busy:
            raise BackupError(
                f"collections not empty: {', '.join(busy)} (restore with --drop to replace them)"
            )
    restored = []
    for entry in archive.collections:
        if drop and entry.name in existing:
            await db.drop_collection(entry.name)
            existing.discard(entry.name)
        if entry.name not in existing:
            await db.command({"create": entry.name, **entry.options})
        await _insert_documents(db, entry)
        indexes = [spec for spec in entry.indexes if spec.get("name") != "_id_"]
        for spec in indexes:
            spec.pop("ns", None)
        if indexes:
            await db.command({"createIndexes": entry.name, "indexes": indexes})
        restored.append(RestoredCollection(entry.name, entry.documents, len(indexes) + 1))
    return restored


def _read_batches(path: Path) -> Generator[list[RawBSONDocument], None, None]:
    batch: list[RawBSONDocument] = []
    size = 0
    with _open(path) as stream:
        for raw in _iter_bson(stream, str(path)):
            batch.append(RawBSONDocument(raw))
            size += len(raw)
            if len(batch) >= INSERT_BATCH_DOCUMENTS or size >= INSERT_BATCH_BYTES:
                yield batch
                batch, size = [], 0
    if batch:
        yield batch


async def _insert_documents(db: Db, entry: _ArchivedCollection) -> None:
    collection = _raw_collection(db, entry.name)
    batches = _read_batches(entry.bson_path)
    try:
        while batch := await asyncio.to_thread(next, batches, None):
            await collection.insert_many(batch, ordered=True)
    finally:
        batches.close()


# --- prune ---------------------------------------------------------------------------------
def backup_created_at(path: Path) -> datetime | None:
    """When a backup directory was made: its manifest, else (a mongodump dir) its mtime."""
    manifest_path = path / MANIFEST_NAME
    if manifest_path.exists():
        with contextlib.suppress(BackupError, OSError):
            return BackupManifest.from_json(manifest_path.read_bytes()).created_at
        return None
    if any(child.is_dir() and any(child.glob("*.bson*")) for child in path.iterdir()):
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    return None


def prune_backups(root: Path, keep_days: int, *, now: datetime | None = None) -> list[Path]:
    """Delete backups under `root` older than `keep_days`; anything else there is left alone."""
    if keep_days < 0:
        raise BackupError("--keep-days must be 0 or more")
    if not root.is_dir():
        return []
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    removed = []
    for child in sorted(root.iterdir()):
        if not child.is_dir() or child.is_symlink() or child.name.startswith("."):
            continue
        created = backup_created_at(child)
        if created is not None and created < cutoff:
            shutil.rmtree(child)
            removed.append(child)
    return removed


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


__all__ = [
    "DEFAULT_BACKUP_DIR",
    "MANIFEST_NAME",
    "BackupError",
    "BackupManifest",
    "CollectionEntry",
    "RestoredCollection",
    "backup_created_at",
    "create_backup",
    "default_backup_path",
    "directory_size",
    "prune_backups",
    "read_archive",
    "restore_backup",
]
