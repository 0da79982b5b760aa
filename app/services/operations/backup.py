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

A restore is all-or-nothing or resumable, never half done and reported as done. It is recorded
in a journal (`backup_restores`, one document per restore) and goes through two phases:
`loading` fills a staging collection per archived collection (`restore_<id8>_<name>`, created
with the archive's options and indexes) while the targets stay untouched; `swapping` renames
each staging collection onto its target (`renameCollection` with `dropTarget`, on MongoDB one
atomic metadata operation per collection). A crash while loading leaves the database as it was: the
restore can be resumed or aborted. A crash while swapping can only be resumed. The journal and
staging collections are never backed up and never restored over.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import re
import shlex
import shutil
import struct
import uuid
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
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
from pymongo.errors import (
    ConfigurationError,
    DuplicateKeyError,
    InvalidOperation,
    OperationFailure,
)

from app.clock import utcnow
from app.models.write_concerns import DURABLE_WRITES

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
RESTORES_COLLECTION = "backup_restores"
# Eight hex digits after the prefix: no collection of the app is named like this.
_STAGING_NAME = re.compile(r"^restore_[0-9a-f]{8}_")


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
            and not is_restore_bookkeeping(str(info["name"]))
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
    bson_sha256: str = ""
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
    path = path.resolve()
    database_dir, manifest = _locate(path)
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
        entry.bson_sha256 = digest.hexdigest()
        if manifest is not None:
            expected = next((e for e in manifest.collections if e.name == name), None)
            if expected is None:
                raise BackupError(f"{where}: not listed in {MANIFEST_NAME}")
            if expected.documents != entry.documents or expected.bson_sha256 != entry.bson_sha256:
                raise BackupError(
                    f"{where}: does not match the manifest ({entry.documents} documents read, "
                    f"{expected.documents} expected): truncated or altered"
                )
        _read_metadata(entry)
        collections.append(entry)
    return _Archive(path, database_dir, manifest, collections)


# --- restore -------------------------------------------------------------------------------
class RestorePhase(StrEnum):
    """Where a restore is; `loading` and `swapping` are unfinished."""

    LOADING = "loading"  # filling the staging collections; the targets are untouched
    SWAPPING = "swapping"  # renaming staging collections onto their targets
    DONE = "done"
    ABORTED = "aborted"


_UNFINISHED_PHASES = [RestorePhase.LOADING.value, RestorePhase.SWAPPING.value]


def is_restore_bookkeeping(name: str) -> bool:
    """The restore journal and staging collections: never backed up, never restored over."""
    return name == RESTORES_COLLECTION or _STAGING_NAME.match(name) is not None


@dataclass(frozen=True, slots=True)
class RestoreJournal:
    """One restore as recorded in `backup_restores`: what a resume, an abort and status read."""

    id: str
    archive: str
    archive_database: str | None  # from the manifest (None for a plain mongodump directory)
    archive_created_at: datetime | None
    checksums: dict[str, str]  # sha256 of each collection's BSON stream, as in the manifest
    metadata_sha256: str  # of every collection's options and indexes
    collections: list[str]
    drop: bool
    phase: RestorePhase
    loaded: list[str]
    swapped: list[str]
    started_at: datetime
    finished_at: datetime | None = None

    @property
    def staging_prefix(self) -> str:
        return f"restore_{self.id[:8]}_"

    def staging_name(self, collection: str) -> str:
        return self.staging_prefix + collection

    @property
    def unfinished(self) -> bool:
        return self.phase in (RestorePhase.LOADING, RestorePhase.SWAPPING)

    def describe(self) -> str:
        """Which archive, which phase, how far: one line for an operator."""
        total = len(self.collections)
        return (
            f"restore {self.id} of {self.archive} (started {self.started_at:%Y-%m-%d %H:%M:%S} "
            f"UTC) is {self.phase.value}: {len(self.loaded)}/{total} collections loaded, "
            f"{len(self.swapped)}/{total} swapped"
        )

    def next_steps(self) -> str:
        """What the operator can do with this unfinished restore."""
        resume = f"`rms backup restore {shlex.quote(self.archive)} --resume`"
        if self.phase is RestorePhase.LOADING:
            return (
                f"finish it with {resume}, or discard it with `rms backup restore --abort` "
                "(the database is still as it was before the restore)"
            )
        return (
            "the swap has started, so the database already holds part of the archive and the "
            f"restore can no longer be aborted: finish it with {resume}"
        )

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "_id": self.id,
            "archive": self.archive,
            "archive_database": self.archive_database,
            "archive_created_at": self.archive_created_at,
            "checksums": self.checksums,
            "metadata_sha256": self.metadata_sha256,
            "collections": self.collections,
            "staging_prefix": self.staging_prefix,
            "drop": self.drop,
            "phase": self.phase.value,
            "loaded": self.loaded,
            "swapped": self.swapped,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }
        if self.unfinished:
            document["active"] = True  # unique: at most one unfinished restore
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> RestoreJournal:
        return cls(
            id=str(document["_id"]),
            archive=str(document["archive"]),
            archive_database=document.get("archive_database"),
            archive_created_at=_aware(document.get("archive_created_at")),
            checksums=dict(document["checksums"]),
            metadata_sha256=str(document["metadata_sha256"]),
            collections=list(document["collections"]),
            drop=bool(document["drop"]),
            phase=RestorePhase(document["phase"]),
            loaded=list(document.get("loaded", [])),
            swapped=list(document.get("swapped", [])),
            started_at=_aware(document["started_at"]) or utcnow(),
            finished_at=_aware(document.get("finished_at")),
        )


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


async def unfinished_restore(db: Db) -> RestoreJournal | None:
    """The restore that was started and neither finished nor aborted, if any."""
    document = await db[RESTORES_COLLECTION].find_one(
        {"phase": {"$in": _UNFINISHED_PHASES}}, sort=[("started_at", 1)]
    )
    return None if document is None else RestoreJournal.from_document(document)


async def latest_restore(db: Db) -> RestoreJournal | None:
    """The most recently started restore, whatever its phase."""
    document = await db[RESTORES_COLLECTION].find_one({}, sort=[("started_at", -1)])
    return None if document is None else RestoreJournal.from_document(document)


async def restore_backup(
    db: Db, path: Path, *, drop: bool = False, resume: bool = False
) -> list[RestoredCollection]:
    """Restore an archive into `db` with its indexes; return once it is entirely in place.

    Without `drop`, every collection in the archive must be absent or empty in `db`; with it,
    those collections are replaced (collections not in the archive are left alone). Each
    collection is loaded into a staging collection, then all are renamed onto their targets;
    the journal in `backup_restores` records how far it got, so a restore stopped by a crash
    is resumed with `resume=True` and the same archive, or discarded with `abort_restore`
    while it is still loading. Any other restore is refused while one is unfinished.
    """
    archive = await asyncio.to_thread(read_archive, path)
    entries = {e.name: e for e in archive.collections if not is_restore_bookkeeping(e.name)}
    journal = await unfinished_restore(db)
    if journal is not None:
        if not resume:
            raise BackupError(
                f"an unfinished restore is recorded: {journal.describe()}; {journal.next_steps()}"
            )
        _check_same_archive(journal, path, list(entries.values()))
        if drop and not journal.drop:
            await _update_journal(db, journal, {"$set": {"drop": True}})
        drop = drop or journal.drop
    elif resume:
        raise BackupError(
            "no unfinished restore to resume (see `rms backup status`): "
            "run the restore without --resume"
        )
    else:
        if not drop:
            await _refuse_non_empty(db, list(entries), "restore with --drop to replace them")
        journal = await _start_journal(db, archive, list(entries.values()), drop)

    # Only a swap that was already under way can have left a rename the journal missed.
    resuming_swap = journal.phase is RestorePhase.SWAPPING
    if journal.phase is RestorePhase.LOADING:
        loaded = set(journal.loaded)
        for name in journal.collections:
            if name not in loaded:
                await _load_staging(db, journal.staging_name(name), entries[name])
                await _update_journal(db, journal, {"$addToSet": {"loaded": name}})
        if not drop:
            await _refuse_non_empty(
                db,
                journal.collections,
                "they were written to while the restore was loading; resume with --drop to "
                "replace them, or discard the restore with `rms backup restore --abort`",
            )
        await _advance(db, journal, RestorePhase.LOADING, RestorePhase.SWAPPING)
    swapped = set(journal.swapped)
    for name in journal.collections:
        if name not in swapped:
            await _swap(db, journal.staging_name(name), entries[name], verify=resuming_swap)
            await _update_journal(db, journal, {"$addToSet": {"swapped": name}})
    await _advance(db, journal, RestorePhase.SWAPPING, RestorePhase.DONE)
    return [
        RestoredCollection(name, entries[name].documents, len(_index_specs(entries[name])) + 1)
        for name in journal.collections
    ]


async def abort_restore(db: Db) -> RestoreJournal:
    """Discard an unfinished restore whose swap has not started: drop its staging collections.

    The targets are not touched while loading, so the database is left as it was before the
    restore. Refused once swapping has started: then only a resume makes the database whole.
    """
    journal = await unfinished_restore(db)
    if journal is None:
        raise BackupError("no unfinished restore to abort (see `rms backup status`)")
    if journal.phase is not RestorePhase.LOADING:
        raise BackupError(f"cannot abort: {journal.describe()}; {journal.next_steps()}")
    for name in await db.list_collection_names():
        if str(name).startswith(journal.staging_prefix):
            await db.drop_collection(name)
    await _advance(db, journal, RestorePhase.LOADING, RestorePhase.ABORTED)
    return journal


def _metadata_sha256(entries: list[_ArchivedCollection]) -> str:
    described = {e.name: {"options": e.options, "indexes": _index_specs(e)} for e in entries}
    encoded = json_util.dumps(described, json_options=CANONICAL_JSON_OPTIONS).encode()
    return hashlib.sha256(encoded).hexdigest()


def _index_specs(entry: _ArchivedCollection) -> list[dict[str, Any]]:
    """The archive's indexes to create: `_id_` comes with the collection, `ns` is obsolete."""
    return [
        {key: value for key, value in spec.items() if key != "ns"}
        for spec in entry.indexes
        if spec.get("name") != "_id_"
    ]


def _check_same_archive(
    journal: RestoreJournal, path: Path, entries: list[_ArchivedCollection]
) -> None:
    """Resume only from the archive the restore started with (by content: it may have moved)."""
    checksums = {e.name: e.bson_sha256 for e in entries}
    if checksums == journal.checksums and _metadata_sha256(entries) == journal.metadata_sha256:
        return
    differing = sorted(
        name
        for name in set(checksums) | set(journal.checksums)
        if checksums.get(name) != journal.checksums.get(name)
    )
    what = f"collections {', '.join(differing)}" if differing else "indexes or options"
    raise BackupError(
        f"{path} is not the archive of the unfinished restore ({what} differ): "
        f"{journal.describe()}; {journal.next_steps()}"
    )


async def _refuse_non_empty(db: Db, names: list[str], hint: str) -> None:
    existing = {str(name) for name in await db.list_collection_names()}
    busy = [
        name for name in names if name in existing and await db[name].estimated_document_count() > 0
    ]
    if busy:
        raise BackupError(f"collections not empty: {', '.join(busy)} ({hint})")


async def _start_journal(
    db: Db, archive: _Archive, entries: list[_ArchivedCollection], drop: bool
) -> RestoreJournal:
    journal = RestoreJournal(
        id=str(uuid.uuid4()),
        archive=str(archive.root),
        archive_database=archive.manifest.database if archive.manifest else None,
        archive_created_at=archive.manifest.created_at if archive.manifest else None,
        checksums={e.name: e.bson_sha256 for e in entries},
        metadata_sha256=_metadata_sha256(entries),
        collections=[e.name for e in entries],
        drop=drop,
        phase=RestorePhase.LOADING,
        loaded=[],
        swapped=[],
        started_at=utcnow(),
    )
    restores = db[RESTORES_COLLECTION]
    await restores.create_index("active", unique=True, sparse=True, name="one_unfinished")
    try:
        await restores.insert_one(journal.to_document())
    except DuplicateKeyError as exc:
        other = await unfinished_restore(db)
        detail = f"{other.describe()}; {other.next_steps()}" if other else "see `rms backup status`"
        raise BackupError(f"another restore started meanwhile: {detail}") from exc
    return journal


async def _update_journal(db: Db, journal: RestoreJournal, update: dict[str, Any]) -> None:
    await db[RESTORES_COLLECTION].update_one({"_id": journal.id}, update)


async def _advance(
    db: Db, journal: RestoreJournal, current: RestorePhase, following: RestorePhase
) -> None:
    """Move to the next phase, unless another command moved this restore on meanwhile."""
    update: dict[str, Any] = {"$set": {"phase": following.value}}
    if following in (RestorePhase.DONE, RestorePhase.ABORTED):
        update["$set"]["finished_at"] = utcnow()
        update["$unset"] = {"active": ""}
    result = await db[RESTORES_COLLECTION].update_one(
        {"_id": journal.id, "phase": current.value}, update
    )
    if result.matched_count != 1:
        raise BackupError(
            f"restore {journal.id} left the {current.value} phase while this command ran "
            "(another `rms backup restore` at the same time?): see `rms backup status`"
        )


async def _load_staging(db: Db, staging: str, entry: _ArchivedCollection) -> None:
    await db.drop_collection(staging)  # what an interrupted load left behind
    await db.command({"create": staging, **entry.options, "writeConcern": DURABLE_WRITES.document})
    await _insert_documents(db, staging, entry)
    indexes = _index_specs(entry)
    if indexes:
        await db.command(
            {"createIndexes": staging, "indexes": indexes, "writeConcern": DURABLE_WRITES.document}
        )


async def _swap(db: Db, staging: str, entry: _ArchivedCollection, *, verify: bool) -> None:
    """Rename the staging collection onto its target, replacing the target in one step.

    When resuming an interrupted swap (`verify`), what it left is checked against the archive:
    a rename that completed before the journal recorded it is not redone, a staging collection
    that is missing or not whole is loaded again, and the target is dropped before the rename
    and counted after it, because a server whose rename is not crash-atomic (SecantusDB) can
    leave stray documents of an interrupted rename under the target's name.
    """
    if verify:
        names = {str(name) for name in await db.list_collection_names()}
        if (
            staging not in names
            and entry.name in names
            and await db[entry.name].count_documents({}) == entry.documents
        ):
            return
        if staging not in names or await db[staging].count_documents({}) != entry.documents:
            await _load_staging(db, staging, entry)
        await db.drop_collection(entry.name)
    await db.client.admin.command(
        {
            "renameCollection": f"{db.name}.{staging}",
            "to": f"{db.name}.{entry.name}",
            "dropTarget": True,
            "writeConcern": DURABLE_WRITES.document,
        }
    )
    if verify and (found := await db[entry.name].count_documents({})) != entry.documents:
        raise BackupError(
            f"{entry.name} holds {found} documents after the swap, {entry.documents} expected: "
            "the database did not apply the rename whole; resume again"
        )


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


async def _insert_documents(db: Db, name: str, entry: _ArchivedCollection) -> None:
    collection = _raw_collection(db, name)
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
    "RESTORES_COLLECTION",
    "BackupError",
    "BackupManifest",
    "CollectionEntry",
    "RestoreJournal",
    "RestorePhase",
    "RestoredCollection",
    "abort_restore",
    "backup_created_at",
    "create_backup",
    "default_backup_path",
    "directory_size",
    "is_restore_bookkeeping",
    "latest_restore",
    "prune_backups",
    "read_archive",
    "restore_backup",
    "unfinished_restore",
]
