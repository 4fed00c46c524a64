"""MetaSync's cache loader for Python backends (the seed's System B), standard library only.

Reads the cache MetaSync publishes — from Cloud Storage over the JSON API, or from a local file or
the local-mode bucket directory — and serves what a text-to-SQL prompt needs::

    from metasync_cache_loader import get_metasync_cache_loader

    cache_loader = get_metasync_cache_loader()       # GCS_BUCKET / CACHE_OBJECT, or LOCAL_BUCKET_DIR
    schema_info = cache_loader.get_schema_info()      # primary table: table_id, last_updated, columns, description
    examples = cache_loader.get_few_shot_examples()   # [{question, sql, tables, source, language, ...}]
    columns = cache_loader.get_schema_columns()       # every nested field, with dotted paths
    is_available = cache_loader.is_cache_available()
    metadata = cache_loader.get_cache_metadata()
    table = cache_loader.get_table("nlq-ex.test_dataset.events_20210131")
    tables = cache_loader.list_tables()               # a split cache: fetches every part (see below)

Behaviour, as MetaSync's TypeScript loader:

- The document is kept in memory and re-checked on access once ``refresh_interval`` (1 hour) has
  passed, or ``retry_interval`` (1 minute) after a failed check. A check reads the object's
  generation first and downloads only when it changed. No background thread.
- A document older than ``max_age`` (24 hours), or stamped more than 5 minutes in the future, is
  still served and flagged ``expired``.
- A missing, corrupt or unreadable object never replaces a good copy: the loader keeps serving its
  last good copy and says why in ``get_cache_metadata()["last_error"]``.
- Until a good copy has been loaded, data methods return empty values (``{}``, ``[]``, ``None``) as
  the seed's loader did, or raise :class:`CacheUnavailable` with ``strict=True``.
- Every document read is validated against the required shape of the committed JSON Schema
  (``schema/cache-document.schema.json``). A ``format_version`` newer than this module knows is
  refused with :class:`UnsupportedFormatVersion`; the seed's format 1 is read and upgraded.
- All timestamps are timezone-aware ``datetime`` objects in UTC. Time comes from ``clock``, a
  function returning an aware ``datetime`` (tests pass their own; nothing sleeps).

The split layout (format 3, for large warehouses): the object at the usual name (checked and
refreshed as above) is then a small *manifest* — every table's id, description and column names
in a ``catalog``, the relationships and glossary — and the full table entries and examples live in
*parts*, one per dataset, fetched on demand from the same bucket or directory
(``manifest["parts"][i]["object"]``):

- The manifest is validated as documents are; a part against ``schema/cache-part.schema.json``,
  and it must be at the storage generation the manifest references (Cloud Storage:
  ``x-goog-generation``; the local directory: the generation its sidecar records, as MetaSync's
  LocalStorage writes it) and hold the key and the numbers of tables and examples it names.
- ``get_schema_info`` reads the manifest alone. ``get_table`` and ``get_schema_columns`` fetch the
  table's part (a shard id or ``prefix*`` finds its family through the catalog);
  ``get_few_shot_examples(table_id)`` fetches that part and the parts whose ``example_tables``
  name the table; ``list_tables``, ``get_document`` and ``get_few_shot_examples()`` without a
  table fetch every part. Results keep the document's order.
- Parts recently used are kept in memory up to ``part_cache_bytes`` (64 MiB by default, counted as
  the parts' stored bytes; the least recently used go first). A new manifest drops the parts it no
  longer references.
- A part that is missing, replaced, invalid or unreadable raises :class:`PartUnavailable` naming
  the part; the manifest stays loaded, and ``get_cache_metadata()["last_part_error"]`` says why.
  The part is not fetched again before ``retry_interval``: calls meanwhile raise the same error.
  ``get_cache_metadata()`` also gives the ``layout`` (``document`` or ``split``), ``part_count``
  and ``parts_cached``.
- Part names are relative to the bucket's root (``parts/<CACHE_OBJECT>/<run>/<key>.json``). A
  manifest named by its path (``METASYNC_CACHE_PATH``) whose object name has folders
  (``caches/metadata_cache.json``) finds its parts above it: the root is its path without that
  object name (given by ``CACHE_OBJECT``, or read from the parts' names); a manifest copied away
  from its bucket names, in the error, what to set.

The prompt context (relevant tables and examples packed within a token budget) is not re-implemented
here: :meth:`MetaSyncCacheLoader.get_prompt_context` asks MetaSync's MCP server for it
(``metasync mcp --http``, tool ``get_prompt_context``) at ``mcp_url`` / ``METASYNC_MCP_URL``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = [
    "CacheDocumentError",
    "CacheUnavailable",
    "GcsSource",
    "LocalSource",
    "MetaSyncCacheLoader",
    "PartUnavailable",
    "StorageError",
    "TableNotCached",
    "UnsupportedFormatVersion",
    "SUPPORTED_FORMAT_VERSIONS",
    "call_mcp_tool",
    "get_metasync_cache_loader",
    "load_document",
    "part_cache_bytes_from_env",
    "source_from_env",
    "validate_document",
    "validate_part",
]

logger = logging.getLogger("metasync_cache_loader")

DEFAULT_OBJECT_NAME = "metadata_cache.json"
DEFAULT_REFRESH_INTERVAL = timedelta(hours=1)
DEFAULT_MAX_AGE = timedelta(hours=24)
# A document stamped further ahead of this clock cannot come from a working sync (as src/contract/Limits.ts).
MAX_FUTURE_SKEW = timedelta(minutes=5)
DEFAULT_RETRY_INTERVAL = timedelta(minutes=1)
DEFAULT_TIMEOUT_SECONDS = 30.0
#: The formats this module reads: 1 (the seed's, no ``format_version``), 2, and 3 (the split layout's manifest).
SUPPORTED_FORMAT_VERSIONS = (1, 2, 3)
#: The split layout: a manifest at the usual name, and parts fetched on demand.
SPLIT_FORMAT_VERSION = 3
#: Parts kept in memory at most, in bytes as stored (the least recently used go first).
DEFAULT_PART_CACHE_BYTES = 64 * 1024 * 1024
DOCUMENT_SCHEMA_FILE = "cache-document.schema.json"
PART_SCHEMA_FILE = "cache-part.schema.json"
#: Where the local mode keeps each object's generation (see the TypeScript LocalStorage).
GENERATIONS_DIR = ".metasync-generations"
METADATA_TOKEN_URL = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
METADATA_IDENTITY_URL = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/identity"
GCS_READ_SCOPE = "https://www.googleapis.com/auth/devstorage.read_only"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class MetaSyncCacheError(Exception):
    """Base of this module's errors; ``tag`` names the kind, as the TypeScript loader's errors do."""

    tag = "MetaSyncCacheError"


class CacheUnavailable(MetaSyncCacheError):
    """No good copy of the document has ever been loaded."""

    tag = "CacheUnavailable"

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"the MetaSync cache at {location} is unavailable: {reason}")
        self.location = location
        self.reason = reason


class TableNotCached(MetaSyncCacheError, KeyError):
    """A table id the document does not describe."""

    tag = "TableNotCached"

    #: Table ids named in the message at most (a split cache may describe thousands).
    SHOWN = 20

    def __init__(self, table_id: str, location: str, cached: List[str]) -> None:
        shown = ", ".join(cached[: self.SHOWN]) + (f" and {len(cached) - self.SHOWN} more" if len(cached) > self.SHOWN else "")
        message = f"{table_id} is not in the MetaSync cache at {location}; it describes {shown}"
        super().__init__(message)
        self.table_id = table_id
        self.cached = cached

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class CacheDocumentError(MetaSyncCacheError, ValueError):
    """The object is not a valid cache document; ``problems`` lists each problem and where it is."""

    tag = "CacheDocumentError"

    def __init__(self, source: str, problems: List[str]) -> None:
        shown = problems[:10] + ([f"… and {len(problems) - 10} more"] if len(problems) > 10 else [])
        super().__init__(f"{source} is not a valid MetaSync cache document:\n" + "\n".join(f"- {p}" for p in shown))
        self.source = source
        self.problems = problems


class UnsupportedFormatVersion(CacheDocumentError):
    """The document was written in a format newer than this module reads."""

    tag = "UnsupportedFormatVersion"

    def __init__(self, source: str, version: Any) -> None:
        supported = ", ".join(str(v) for v in SUPPORTED_FORMAT_VERSIONS)
        super().__init__(
            source,
            [
                f"format_version: {json.dumps(version)} is not a format this loader reads ({supported}); "
                "update metasync_cache_loader.py to the release of MetaSync that wrote it"
            ],
        )
        self.version = version


class StorageError(MetaSyncCacheError):
    """Reading the object failed (permission, network, server error)."""

    tag = "StorageError"

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


class PartUnavailable(MetaSyncCacheError):
    """A part of a split document could not be used: missing, replaced, invalid or unreadable.

    ``key`` and ``location`` name the part; ``reason_tag`` says which (``ResourceNotFound``,
    ``GenerationMismatch``, ``CacheDocumentError``, ``StorageError``). The manifest stays loaded.
    """

    tag = "PartUnavailable"

    def __init__(self, key: str, location: str, generated_at: str, reason_tag: str, reason: str) -> None:
        super().__init__(f"part {key} ({location}) of the MetaSync cache generated at {generated_at} is unavailable: {reason}")
        self.key = key
        self.location = location
        self.reason_tag = reason_tag
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# Validation: the required shape of the committed JSON Schema
# ---------------------------------------------------------------------------------------------

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)


def _schema_candidates(file_name: str) -> List[str]:
    here = os.path.dirname(os.path.abspath(__file__))
    return [
        os.path.join(here, file_name),
        os.path.join(here, "..", "schema", file_name),
    ]


_schema_lock = threading.Lock()
_schema_cache: Dict[str, Dict[str, Any]] = {}


def load_json_schema(path: Optional[str] = None, file_name: str = DOCUMENT_SCHEMA_FILE) -> Dict[str, Any]:
    """A committed JSON Schema: ``path``, else near ``METASYNC_CACHE_SCHEMA``, else found near this module.

    ``file_name`` is the document's schema (manifests included) or ``cache-part.schema.json``; a
    part's schema is looked for next to the document's schema named by ``METASYNC_CACHE_SCHEMA``.
    """
    if path:
        candidates = [path]
    elif os.environ.get("METASYNC_CACHE_SCHEMA"):
        named = os.environ["METASYNC_CACHE_SCHEMA"]
        candidates = [named if file_name == DOCUMENT_SCHEMA_FILE else os.path.join(os.path.dirname(named), file_name)]
    else:
        candidates = _schema_candidates(file_name)
    for candidate in candidates:
        if candidate and os.path.isfile(candidate):
            resolved = os.path.realpath(candidate)
            with _schema_lock:
                if resolved not in _schema_cache:
                    with open(resolved, "r", encoding="utf-8") as f:
                        _schema_cache[resolved] = json.load(f)
                return _schema_cache[resolved]
    raise FileNotFoundError(
        f"MetaSync's {file_name} was not found (looked at "
        + ", ".join(c for c in candidates if c)
        + f"); copy schema/{file_name} next to metasync_cache_loader.py or set METASYNC_CACHE_SCHEMA"
    )


def _type_ok(value: Any, expected: str) -> bool:
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "null":
        return value is None
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool) or (isinstance(value, float) and value.is_integer())
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def _where(path: str) -> str:
    return path or "(document)"


def _validate(value: Any, schema: Dict[str, Any], root: Dict[str, Any], path: str, problems: List[str]) -> None:
    """A JSON Schema (draft-07) subset: the keywords the committed schema uses."""
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            return
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        _validate(value, target, root, path, problems)
    if "anyOf" in schema:
        attempts: List[List[str]] = []
        for option in schema["anyOf"]:
            found: List[str] = []
            _validate(value, option, root, path, found)
            if not found:
                break
            attempts.append(found)
        else:
            # Report the closest alternative: the one with the fewest problems.
            problems.extend(min(attempts, key=len) if attempts else [f"{_where(path)}: matches no alternative"])
    if "not" in schema:
        found = []
        _validate(value, schema["not"], root, path, found)
        if not found:
            problems.append(f"{_where(path)}: must not match {json.dumps(schema['not'])}")
    expected = schema.get("type")
    if expected is not None:
        types = expected if isinstance(expected, list) else [expected]
        if not any(_type_ok(value, t) for t in types):
            problems.append(f"{_where(path)}: expected {' or '.join(types)}, got {type(value).__name__} {json.dumps(value)[:60]}")
            return
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{_where(path)}: expected one of {json.dumps(schema['enum'])}, got {json.dumps(value)[:60]}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{_where(path)}: must not be empty")
        if schema.get("format") == "date-time" and not _DATE_TIME.match(value):
            problems.append(f"{_where(path)}: {json.dumps(value)[:60]} is not an ISO-8601 timestamp")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{_where(path)}: must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{_where(path)}: must be at most {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            problems.append(f"{_where(path)}: must be more than {schema['exclusiveMinimum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{_where(path)}: missing required field {key!r}")
        properties = schema.get("properties", {})
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if key in properties:
                _validate(item, properties[key], root, child, problems)
            elif isinstance(schema.get("additionalProperties"), dict):
                _validate(item, schema["additionalProperties"], root, child, problems)
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{_where(path)}: must have at least {schema['minItems']} item(s)")
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _validate(item, items, root, f"{path}[{i}]", problems)


def format_version_of(document: Any) -> Any:
    """The version a parsed document declares: 1 when it has no ``format_version`` (the seed's)."""
    if isinstance(document, dict) and "format_version" in document:
        return document["format_version"]
    return 1


def validate_document(document: Any, source: str = "document", schema_path: Optional[str] = None) -> int:
    """Checks a parsed document; returns its format version or raises :class:`CacheDocumentError`."""
    if not isinstance(document, dict):
        raise CacheDocumentError(source, [f"(document): expected a JSON object, got {type(document).__name__}"])
    version = format_version_of(document)
    if version not in SUPPORTED_FORMAT_VERSIONS or isinstance(version, bool):
        raise UnsupportedFormatVersion(source, version)
    if version == SPLIT_FORMAT_VERSION and document.get("layout") == "part":
        raise CacheDocumentError(
            source, [f"(document): a part ({document.get('key')}) of a split document, not a document or a manifest"]
        )
    schema = load_json_schema(schema_path)
    problems: List[str] = []
    # Against the declared version's definition, so problems are reported for the format meant.
    definition = "CacheManifest" if version == SPLIT_FORMAT_VERSION else f"CacheDocumentV{version}"
    target = {"$ref": f"#/$defs/{definition}"} if definition in schema.get("$defs", {}) else schema
    _validate(document, target, schema, "", problems)
    if version == SPLIT_FORMAT_VERSION and not problems:
        problems.extend(_manifest_problems(document))
    if version == 2 and not problems:
        tables = document["tables"]
        if document["schema"]["table_id"] != tables[0]["table_id"]:
            problems.append("schema.table_id: must be the primary table tables[0].table_id")
        seen = set()
        for table in tables:
            if table["table_id"] in seen:
                problems.append(f"tables: {table['table_id']} appears twice")
            seen.add(table["table_id"])
    if problems:
        raise CacheDocumentError(source, problems)
    return int(version)


def _manifest_problems(manifest: Dict[str, Any]) -> List[str]:
    """What makes a manifest inconsistent, as the TypeScript contract's ``manifestProblem``."""
    catalog, parts = manifest["catalog"], manifest["parts"]
    if manifest["schema"]["table_id"] != catalog[0]["table_id"]:
        return [f"schema.table_id ({manifest['schema']['table_id']}) must be the primary table catalog[0].table_id ({catalog[0]['table_id']})"]
    ids = set()
    tables = [0] * len(parts)
    for entry in catalog:
        if entry["table_id"] in ids:
            return [f"catalog: table {entry['table_id']} appears twice"]
        ids.add(entry["table_id"])
        if entry["part"] >= len(parts):
            return [f"catalog: entry {entry['table_id']} names part {entry['part']}; there are {len(parts)}"]
        tables[int(entry["part"])] += 1
    examples = [0] * len(parts)
    for index in manifest["example_parts"]:
        if index >= len(parts):
            return [f"example_parts: names part {index}; there are {len(parts)}"]
        examples[int(index)] += 1
    keys = set()
    for i, part in enumerate(parts):
        if part["key"] in keys:
            return [f"parts: part {part['key']} appears twice"]
        keys.add(part["key"])
        if part["tables"] != tables[i]:
            return [f"parts[{i}] ({part['key']}): says {part['tables']} tables; the catalog puts {tables[i]} there"]
        if part["examples"] != examples[i]:
            return [f"parts[{i}] ({part['key']}): says {part['examples']} examples; example_parts puts {examples[i]} there"]
        if part["tables"] == 0:
            return [f"parts[{i}] ({part['key']}): holds no table"]
    return []


def validate_part(part: Any, ref: Dict[str, Any], source: str = "part", schema_path: Optional[str] = None) -> None:
    """Checks a parsed part against ``cache-part.schema.json`` and against its manifest's ``ref``; raises :class:`CacheDocumentError`."""
    schema = load_json_schema(schema_path, PART_SCHEMA_FILE)
    problems: List[str] = []
    _validate(part, schema, schema, "", problems)
    if not problems:
        found = (part["key"], len(part["tables"]), len(part["examples"]))
        if found != (ref["key"], ref["tables"], ref["examples"]):
            problems.append(
                f"(document): holds part {found[0]} with {found[1]} tables and {found[2]} examples; "
                f"the manifest expects {ref['key']} with {ref['tables']} and {ref['examples']}"
            )
    if problems:
        raise CacheDocumentError(source, problems)


def _has_hangul(text: str) -> bool:
    return any("\u3131" <= ch <= "\ud79d" for ch in text)


def _upgrade(document: Dict[str, Any], version: int) -> Dict[str, Any]:
    """Format 1 (the seed's) → format 2, as the TypeScript contract's ``migrateV1``."""
    if version >= 2:
        return document
    schema = document["schema"]
    return {
        "format_version": 2,
        "generated_at": document["generated_at"],
        "generator": {"name": "metasync", "version": "format-1"},
        "schema": schema,
        "tables": [
            {
                "table_id": schema["table_id"],
                "last_updated": schema["last_updated"],
                "columns": schema["columns"],
            }
        ],
        "examples": [
            {
                "question": e["question"],
                "sql": e["sql"],
                "tables": [schema["table_id"]],
                "source": "legacy",
                "generator": "legacy",
                "language": "ko" if _has_hangul(e["question"]) else "en",
            }
            for e in document["examples"]
        ],
        "drift": None,
        "metrics": None,
    }


_TABLE_DEFAULTS: Dict[str, Any] = {
    "kind": "TABLE",
    "description": None,
    "created": None,
    "row_count": None,
    "size_bytes": None,
    "labels": {},
    "partitioning": None,
    "clustering": [],
    "view_query": None,
    "sharding": None,
    "profile": None,
    "field_paths": [],
    "status": {"state": "fresh"},
}


def _tables_with_defaults(tables: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    filled_tables = []
    for table in tables:
        filled = {k: (json.loads(json.dumps(v)) if isinstance(v, (dict, list)) else v) for k, v in _TABLE_DEFAULTS.items()}
        filled.update(table)
        filled_tables.append(filled)
    return filled_tables


def _with_defaults(document: Dict[str, Any]) -> Dict[str, Any]:
    return {**document, "tables": _tables_with_defaults(document["tables"]), "drift": document.get("drift"), "metrics": document.get("metrics")}


def _parse_json(data: bytes, source: str) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CacheDocumentError(source, ["(document): not UTF-8 text"]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CacheDocumentError(source, [f"(document): not JSON ({error.msg} at line {error.lineno}, column {error.colno})"]) from None


def load_document(data: bytes, source: str = "document", schema_path: Optional[str] = None) -> Tuple[Dict[str, Any], int]:
    """Parses, validates and upgrades a document; returns it and the version it was written in.

    A format 1 or 2 document comes back in format 2 (defaults filled); a split layout's manifest
    (format 3) comes back as it is, its parts to be fetched with :func:`load_part`.
    """
    document = _parse_json(data, source)
    version = validate_document(document, source, schema_path)
    if version == SPLIT_FORMAT_VERSION:
        return document, version
    return _with_defaults(_upgrade(document, version)), version


def load_part(data: bytes, ref: Dict[str, Any], source: str = "part", schema_path: Optional[str] = None) -> Dict[str, Any]:
    """Parses and validates one part of a split document (``ref`` is its entry in the manifest's ``parts``); defaults filled."""
    part = _parse_json(data, source)
    validate_part(part, ref, source, schema_path)
    return {**part, "tables": _tables_with_defaults(part["tables"])}


def parse_timestamp(text: str) -> datetime:
    """An ISO-8601 timestamp as an aware UTC ``datetime`` (a timestamp without an offset is UTC)."""
    normalized = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Before Python 3.11 fromisoformat takes only 3 or 6 fractional digits: pad or cut to 6.
    normalized = re.sub(r"\.(\d+)", lambda m: "." + (m.group(1) + "000000")[:6], normalized, count=1)
    value = datetime.fromisoformat(normalized)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectVersion:
    """What a cheap check of the object says: ``generation`` as storage reports it, ``key`` to detect any change."""

    generation: str
    key: str


def manifest_object_of_part(object_name: str) -> Optional[str]:
    """The manifest object a part's name says it belongs to (``parts/<object>/<run>/<key>.json``), or ``None``."""
    segments = object_name.split("/")
    if len(segments) < 4 or segments[0] != "parts":
        return None
    return "/".join(segments[1:-2])


class LocalSource:
    """A file, or the local-mode bucket directory (``<dir>/<object>`` with generations under ``.metasync-generations/``)."""

    def __init__(self, path: str, object_name: Optional[str] = None) -> None:
        if object_name is None and (path.endswith(".json") or os.path.isfile(path)):
            self.directory, self.object_name = os.path.split(os.path.abspath(path))
        else:
            self.directory, self.object_name = os.path.abspath(path), object_name or DEFAULT_OBJECT_NAME
        self.file = os.path.join(self.directory, self.object_name)

    @property
    def location(self) -> str:
        return self.file

    def stat(self) -> Optional[ObjectVersion]:
        try:
            st = os.stat(self.file)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StorageError(f"reading {self.file} failed: {error.strerror}") from None
        try:
            with open(os.path.join(self.directory, GENERATIONS_DIR, self.object_name), "r", encoding="utf-8") as f:
                recorded = f.read().strip()
        except OSError:
            recorded = ""
        generation = recorded or str(st.st_mtime_ns)
        # The sync records the generation just before it renames the new file into place: the file's
        # identity is part of the key so that a read in between is noticed on the next check.
        return ObjectVersion(generation, f"{generation}:{st.st_ino}:{st.st_mtime_ns}:{st.st_size}")

    def read(self) -> Optional[Tuple[bytes, ObjectVersion]]:
        for _ in range(3):
            before = self.stat()
            if before is None:
                return None
            try:
                with open(self.file, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                continue
            except OSError as error:
                raise StorageError(f"reading {self.file} failed: {error.strerror}") from None
            if self.stat() == before:
                return data, before
        raise StorageError(f"{self.file} kept changing while it was read")

    def bucket_root_for(self, object_name: str) -> str:
        """The directory a split document's part name is relative to: the bucket's root.

        Parts are named ``parts/<manifest object>/<run>/<key>.json`` from the bucket's root. When this
        source is a manifest file named by its path (``METASYNC_CACHE_PATH``) whose object name had
        folders (``caches/metadata_cache.json``), the root is the path without that object name;
        otherwise it is this source's directory.
        """
        manifest_object = manifest_object_of_part(object_name)
        if manifest_object is None or manifest_object == self.object_name:
            return self.directory
        suffix = os.sep + os.path.normpath(manifest_object)
        if self.file.endswith(suffix):
            return self.file[: -len(suffix)] or os.sep
        return self.directory

    def sibling(self, object_name: str) -> "LocalSource":
        """Another object of the same bucket (a part of a split document), by its object name.

        Refused when the name leads out of the bucket's directory or into its generations sidecar,
        as the TypeScript LocalStorage refuses it: a manifest must not make the loader read files
        elsewhere.
        """
        root = self.bucket_root_for(object_name)
        target = os.path.normpath(os.path.join(root, object_name))
        inside = os.path.relpath(target, root)
        if os.path.isabs(object_name) or inside == os.curdir or inside.split(os.sep)[0] in (os.pardir, GENERATIONS_DIR):
            raise StorageError(f"object name {object_name!r} leaves the storage directory {root} or reaches into its internals")
        real_directory = os.path.realpath(root)
        if not os.path.realpath(target).startswith(real_directory + os.sep):
            raise StorageError(f"object name {object_name!r} leads through a symbolic link out of the storage directory {root}")
        return LocalSource(root, object_name)

    def missing_part_hint(self, object_name: str) -> str:
        """Why a missing part may be looked for in the wrong place, and what to set; ``""`` when nothing suggests it."""
        manifest_object = manifest_object_of_part(object_name)
        if manifest_object is None or self.bucket_root_for(object_name) != self.directory or manifest_object == self.object_name:
            return ""
        return (
            f" (parts are named from the bucket's root, and this manifest's are those of CACHE_OBJECT={manifest_object}, "
            f"which {self.file} does not end with: set LOCAL_BUCKET_DIR to the bucket's directory and CACHE_OBJECT={manifest_object}, "
            f"or METASYNC_CACHE_PATH to <bucket directory>/{manifest_object})"
        )

    def fetch(self) -> Optional[Tuple[bytes, str]]:
        """The object's bytes and its generation (the sidecar's, as the TypeScript LocalStorage records it); ``None`` when missing."""
        read = self.read()
        return None if read is None else (read[0], read[1].generation)


class GcsSource:
    """An object in Cloud Storage, read over the JSON API with a read-only access token.

    The token comes from ``google.auth`` when that package is installed (Application Default
    Credentials), else from the metadata server (Cloud Run, GCE, GKE, Cloud Functions). With
    ``STORAGE_EMULATOR_HOST`` set (or ``endpoint`` given), requests go there without a token.
    """

    def __init__(
        self,
        bucket: str,
        object_name: str = DEFAULT_OBJECT_NAME,
        endpoint: Optional[str] = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        token_provider: Optional[Callable[[], Optional[str]]] = None,
    ) -> None:
        self.bucket = bucket
        self.object_name = object_name
        emulator = endpoint or os.environ.get("STORAGE_EMULATOR_HOST")
        if emulator:
            self.endpoint = (emulator if re.match(r"^https?://", emulator) else f"http://{emulator}").rstrip("/")
        else:
            self.endpoint = "https://storage.googleapis.com"
        self.timeout = timeout
        self._token_provider = token_provider or (_no_token if emulator else _default_token_provider())
        quoted = urllib.parse.quote(object_name, safe="")
        self._object_url = f"{self.endpoint}/storage/v1/b/{urllib.parse.quote(bucket, safe='')}/o/{quoted}"

    @property
    def location(self) -> str:
        return f"gs://{self.bucket}/{self.object_name}"

    def _get(self, url: str) -> Optional[Tuple[bytes, Dict[str, str]]]:
        headers = {"Accept-Encoding": "identity", "User-Agent": "metasync-cache-loader-python"}
        token = self._token_provider()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read(), {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            detail = _error_message(error)
            raise StorageError(f"reading {self.location} failed: HTTP {error.code}{': ' + detail if detail else ''}", error.code) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise StorageError(f"reading {self.location} failed: {reason}") from None

    def stat(self) -> Optional[ObjectVersion]:
        reply = self._get(f"{self._object_url}?fields=generation")
        if reply is None:
            return None
        try:
            generation = str(json.loads(reply[0].decode("utf-8"))["generation"])
        except (ValueError, KeyError, UnicodeDecodeError):
            raise StorageError(f"reading {self.location} failed: the object's metadata has no generation") from None
        return ObjectVersion(generation, generation)

    def read(self) -> Optional[Tuple[bytes, ObjectVersion]]:
        for _ in range(3):
            version = self.stat()
            if version is None:
                return None
            # Pinned to the generation just seen, so the bytes and the generation belong together.
            reply = self._get(f"{self._object_url}?alt=media&generation={version.generation}")
            if reply is not None:
                return reply[0], version
        raise StorageError(f"{self.location} kept changing while it was read")

    def sibling(self, object_name: str) -> "GcsSource":
        """Another object of the same bucket (a part of a split document), read with the same endpoint and credentials."""
        return GcsSource(self.bucket, object_name, endpoint=self.endpoint, timeout=self.timeout, token_provider=self._token_provider)

    def fetch(self) -> Optional[Tuple[bytes, str]]:
        """The live object's bytes and the generation they are (``x-goog-generation``), in one request; ``None`` when missing."""
        reply = self._get(f"{self._object_url}?alt=media")
        if reply is None:
            return None
        generation = reply[1].get("x-goog-generation")
        if not generation:
            raise StorageError(f"reading {self.location} failed: the reply has no x-goog-generation header")
        return reply[0], generation


def _error_message(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read().decode("utf-8"))
        return str(body.get("error", {}).get("message", ""))[:300]
    except Exception:  # noqa: BLE001 - an unreadable error body only loses the detail
        return ""


def _no_token() -> Optional[str]:
    return None


def _default_token_provider() -> Callable[[], Optional[str]]:
    """Tokens from ``google.auth`` when installed, else from the metadata server; cached until a minute before expiry."""
    lock = threading.Lock()
    cached: Dict[str, Any] = {"token": None, "expires": 0.0}

    def from_google_auth() -> Optional[Tuple[str, float]]:
        try:
            import google.auth  # type: ignore[import-not-found]
            import google.auth.transport.requests  # type: ignore[import-not-found]
        except ImportError:
            return None
        credentials, _ = google.auth.default(scopes=[GCS_READ_SCOPE])
        credentials.refresh(google.auth.transport.requests.Request())
        expiry = getattr(credentials, "expiry", None)
        expires = expiry.replace(tzinfo=timezone.utc).timestamp() if expiry else time.time() + 300
        return credentials.token, expires

    def from_metadata_server() -> Tuple[str, float]:
        request = urllib.request.Request(
            f"{METADATA_TOKEN_URL}?scopes={urllib.parse.quote(GCS_READ_SCOPE)}", headers={"Metadata-Flavor": "Google"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                body = json.loads(response.read().decode("utf-8"))
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise StorageError(
                "no credentials for Cloud Storage: install google-auth (Application Default Credentials) or run on GCP "
                f"(the metadata server did not answer: {getattr(error, 'reason', error)})"
            ) from None
        return body["access_token"], time.time() + float(body.get("expires_in", 300))

    def provide() -> Optional[str]:
        with lock:
            if cached["token"] is None or time.time() > cached["expires"] - 60:
                token, expires = from_google_auth() or from_metadata_server()
                cached.update(token=token, expires=expires)
            return cached["token"]

    return provide


# ---------------------------------------------------------------------------------------------
# The loader
# ---------------------------------------------------------------------------------------------


def flatten_fields(fields: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Every field of a column tree, depth first: ``path``, ``segments``, ``type``, ``mode``, ``description``, ``repeated``, ``depth``."""
    out: List[Dict[str, Any]] = []

    def walk(level: List[Dict[str, Any]], parent: List[str], repeated: List[str]) -> None:
        for field in level:
            segments = parent + [field["name"]]
            path = ".".join(segments)
            here = repeated + [path] if field.get("mode") == "REPEATED" else repeated
            out.append(
                {
                    "path": path,
                    "segments": segments,
                    "type": field["type"],
                    "mode": field.get("mode", "NULLABLE"),
                    "description": field.get("description"),
                    "repeated": here,
                    "depth": len(parent),
                }
            )
            if field.get("fields"):
                walk(field["fields"], segments, here)

    walk(fields, [], [])
    return out


def find_table(document: Dict[str, Any], requested: str) -> Optional[Dict[str, Any]]:
    """A table by id; for a date-sharded family, any shard id within its range or ``prefix*``."""
    for table in document["tables"]:
        if table["table_id"] == requested:
            return table
    for table in document["tables"]:
        sharding = table.get("sharding")
        if not sharding:
            continue
        dataset = table["table_id"][: table["table_id"].rfind(".") + 1]
        family = dataset + sharding["prefix"]
        if not requested.startswith(family):
            continue
        suffix = requested[len(family):]
        first, last = sharding["first_suffix"], sharding["last_suffix"]
        if suffix == "*" or (len(suffix) == len(first) and first <= suffix <= last):
            return table
    return None


@dataclass
class _Loaded:
    """The object at the document's name, as last loaded: a whole document, or a split layout's manifest."""

    document: Dict[str, Any]
    format_version: int
    version: ObjectVersion
    loaded_at: datetime
    generated_at: datetime

    @property
    def manifest(self) -> Optional[Dict[str, Any]]:
        return self.document if self.format_version == SPLIT_FORMAT_VERSION else None


class _PartCache:
    """Parts recently used, least recently used first, within ``budget`` bytes (as stored).

    A part is immutable and named by its object and generation, so a cached one stays right across
    manifests that reference it. A part larger than the whole budget is used but not kept.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._parts: "OrderedDict[Tuple[str, str], Tuple[Dict[str, Any], int]]" = OrderedDict()

    def get(self, key: Tuple[str, str]) -> Optional[Dict[str, Any]]:
        found = self._parts.get(key)
        if found is None:
            return None
        self._parts.move_to_end(key)
        return found[0]

    def put(self, key: Tuple[str, str], part: Dict[str, Any], size: int) -> None:
        if size > self.budget:
            return
        previous = self._parts.pop(key, None)
        if previous is not None:
            self.used -= previous[1]
        self._parts[key] = (part, size)
        self.used += size
        while self.used > self.budget:
            _, (_, evicted) = self._parts.popitem(last=False)
            self.used -= evicted

    def keep_only(self, keys: "set[Tuple[str, str]]") -> None:
        """Forgets the parts a new manifest no longer references."""
        for key in [k for k in self._parts if k not in keys]:
            self.used -= self._parts.pop(key)[1]

    def __len__(self) -> int:
        return len(self._parts)

    def keys(self) -> List[Tuple[str, str]]:
        return list(self._parts)


class MetaSyncCacheLoader:
    """The seed's System B loader over a :class:`GcsSource` or :class:`LocalSource`; safe to share between threads."""

    def __init__(
        self,
        source: Any,
        refresh_interval: timedelta = DEFAULT_REFRESH_INTERVAL,
        max_age: timedelta = DEFAULT_MAX_AGE,
        retry_interval: timedelta = DEFAULT_RETRY_INTERVAL,
        clock: Clock = utc_now,
        strict: bool = False,
        schema_path: Optional[str] = None,
        mcp_url: Optional[str] = None,
        mcp_token_provider: Optional[Callable[[], Optional[str]]] = None,
        part_cache_bytes: int = DEFAULT_PART_CACHE_BYTES,
        part_schema_path: Optional[str] = None,
    ) -> None:
        if part_cache_bytes < 0:
            raise ValueError(f"part_cache_bytes must be 0 or more, got {part_cache_bytes}")
        self.source = source
        self.refresh_interval = refresh_interval
        self.max_age = max_age
        self.retry_interval = min(retry_interval, refresh_interval)
        self.clock = clock
        self.strict = strict
        self.schema_path = schema_path
        self.part_schema_path = part_schema_path
        self.mcp_url = mcp_url if mcp_url is not None else os.environ.get("METASYNC_MCP_URL")
        self.mcp_token_provider = mcp_token_provider
        self._lock = threading.Lock()
        self._loaded: Optional[_Loaded] = None
        self._checked_at: Optional[datetime] = None
        self._last_error: Optional[Dict[str, Any]] = None
        # A version that did not decode: not downloaded again until the object changes.
        self._rejected: Optional[Tuple[str, Dict[str, str]]] = None
        # The part cache has its own lock, so a slow part never holds up a storage check; each
        # part being fetched has one more, so threads wanting the same part share one download
        # while parts already cached, or other parts, are served meanwhile.
        self._parts_lock = threading.Lock()
        self._parts = _PartCache(part_cache_bytes)
        self._fetching: Dict[Tuple[str, str], threading.Lock] = {}
        # A part that could not be used is not fetched again before ``retry_interval``, as the
        # document is not re-checked sooner after a failure: each call raises the same error.
        self._part_failures: Dict[Tuple[str, str], Tuple[datetime, PartUnavailable]] = {}
        self._last_part_error: Optional[Dict[str, Any]] = None

    @property
    def location(self) -> str:
        return self.source.location

    # -- checking storage ---------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return a timezone-aware datetime")
        return now.astimezone(timezone.utc)

    def _fail(self, tag: str, message: str, now: datetime) -> None:
        changed = self._last_error is None or self._last_error["message"] != message
        self._last_error = {"tag": tag, "message": message, "at": now}
        if changed:
            if self._loaded is not None:
                logger.warning("keeping the MetaSync cache copy of generation %s: %s", self._loaded.version.generation, message)
            else:
                logger.warning("%s", message)

    def _check(self) -> None:
        """One check of storage; the caller holds the lock."""
        now_before = self._now()
        try:
            version = self.source.stat()
            if version is None:
                self._checked_at = self._now()
                self._fail("ResourceNotFound", f"{self.location} does not exist", self._checked_at)
                return
            if self._loaded is not None and version.key == self._loaded.version.key:
                self._checked_at = self._now()
                self._last_error = None
                return
            if self._rejected is not None and self._rejected[0] == version.key:
                self._checked_at = self._now()
                failure = self._rejected[1]
                self._fail(failure["tag"], failure["message"], self._checked_at)
                return
            read = self.source.read()
            if read is None:
                self._checked_at = self._now()
                self._fail("ResourceNotFound", f"{self.location} does not exist", self._checked_at)
                return
            data, version = read
            try:
                document, written = load_document(data, self.location, self.schema_path)
            except CacheDocumentError as error:
                self._checked_at = self._now()
                self._rejected = (version.key, {"tag": error.tag, "message": str(error)})
                self._fail(error.tag, str(error), self._checked_at)
                return
            self._checked_at = self._now()
            self._loaded = _Loaded(
                document=document,
                format_version=written,
                version=version,
                loaded_at=self._checked_at,
                generated_at=parse_timestamp(document["generated_at"]),
            )
            self._last_error = None
            self._rejected = None
            self._forget_unreferenced_parts(self._loaded)
        except StorageError as error:
            self._checked_at = self._now()
            self._fail(error.tag, str(error), self._checked_at)
        except FileNotFoundError as error:  # the JSON Schema itself is missing
            self._checked_at = now_before
            self._fail("SchemaNotFound", str(error), now_before)
        except Exception as error:  # noqa: BLE001 - a bug or a surprise must not take the last good copy away
            self._checked_at = now_before
            self._fail(type(error).__name__, f"checking {self.location} failed: {error}", now_before)

    def _is_due(self, now: datetime) -> bool:
        if self._checked_at is None or self._loaded is None:
            return True
        interval = self.refresh_interval if self._last_error is None else self.retry_interval
        return now - self._checked_at >= interval

    def _current(self) -> Optional[_Loaded]:
        with self._lock:
            if self._is_due(self._now()):
                self._check()
            return self._loaded

    def _loaded_or_none(self) -> Optional[_Loaded]:
        loaded = self._current()
        if loaded is None and self.strict:
            reason = self._last_error["message"] if self._last_error else "the cache document has not been loaded yet"
            raise CacheUnavailable(self.location, reason)
        return loaded

    def refresh(self) -> Dict[str, Any]:
        """Checks storage now, whatever the copy's age; returns the metadata after the check."""
        with self._lock:
            self._check()
        return self.get_cache_metadata()

    # -- parts of a split document ------------------------------------------------------------

    def _forget_unreferenced_parts(self, loaded: _Loaded) -> None:
        manifest = loaded.manifest
        referenced = set() if manifest is None else {(r["object"], r["generation"]) for r in manifest["parts"]}
        with self._parts_lock:
            self._parts.keep_only(referenced)
            for key in [k for k in self._part_failures if k not in referenced]:
                del self._part_failures[key]

    def _part(self, manifest: Dict[str, Any], index: int) -> Dict[str, Any]:
        """Part ``index`` of ``manifest``: from the cache, or fetched, checked and cached; raises :class:`PartUnavailable`."""
        ref = manifest["parts"][index]
        cache_key = (ref["object"], ref["generation"])
        with self._parts_lock:
            cached = self._parts.get(cache_key)
            if cached is not None:
                return cached
            fetching = self._fetching.setdefault(cache_key, threading.Lock())
        with fetching:
            with self._parts_lock:
                cached = self._parts.get(cache_key)
                failed = self._part_failures.get(cache_key)
            if cached is not None:  # another thread fetched it while this one waited
                return cached
            if failed is not None and self._now() - failed[0] < self.retry_interval:
                raise failed[1]
            try:
                part, size = self._fetch_part(manifest, ref)
                with self._parts_lock:
                    self._parts.put(cache_key, part, size)
                    self._part_failures.pop(cache_key, None)
                    # Cleared by the part that failed, as the TypeScript loader does: another part loading says nothing of it.
                    if self._last_part_error is not None and self._last_part_error["object"] == ref["object"]:
                        self._last_part_error = None
            except PartUnavailable as error:
                with self._parts_lock:
                    self._part_failures[cache_key] = (self._now(), error)
                raise
            finally:
                with self._parts_lock:
                    self._fetching.pop(cache_key, None)
            return part

    def _fetch_part(self, manifest: Dict[str, Any], ref: Dict[str, Any]) -> Tuple[Dict[str, Any], int]:
        location = ref["object"]

        def unavailable(tag: str, reason: str) -> PartUnavailable:
            error = PartUnavailable(ref["key"], location, manifest["generated_at"], tag, reason)
            self._last_part_error = {"tag": tag, "part": ref["key"], "object": ref["object"], "message": str(error), "at": self._now()}
            logger.warning("%s", error)
            return error

        try:
            source = self.source.sibling(ref["object"])
            location = source.location
            fetched = source.fetch()
        except StorageError as error:
            raise unavailable(error.tag, str(error)) from None
        if fetched is None:
            hint = getattr(self.source, "missing_part_hint", None)
            raise unavailable("ResourceNotFound", f"{location} does not exist" + (hint(ref["object"]) if hint else ""))
        data, generation = fetched
        if generation != ref["generation"]:
            # Parts are written once: another generation means it was deleted and written again.
            raise unavailable(
                "GenerationMismatch",
                f"{location} is at generation {generation}; the manifest references generation {ref['generation']} (the part was replaced since)",
            )
        try:
            part = load_part(data, ref, location, self.part_schema_path)
        except CacheDocumentError as error:
            raise unavailable(error.tag, str(error)) from None
        return part, len(data)

    def _parts_of(self, manifest: Dict[str, Any], indexes: List[int]) -> Dict[int, Dict[str, Any]]:
        return {i: self._part(manifest, i) for i in indexes}

    @staticmethod
    def _catalog_entry(manifest: Dict[str, Any], table_id: str) -> Optional[Dict[str, Any]]:
        # The catalog carries ids and sharding: a shard id or `prefix*` finds its family as in a document.
        return find_table({"tables": manifest["catalog"]}, table_id)

    def _table_of(self, manifest: Dict[str, Any], entry: Dict[str, Any]) -> Dict[str, Any]:
        part = self._part(manifest, entry["part"])
        for table in part["tables"]:
            if table["table_id"] == entry["table_id"]:
                return table
        # load_part checked the counts; a part holding other tables than the catalog says is refused here.
        ref = manifest["parts"][entry["part"]]
        raise PartUnavailable(
            ref["key"], ref["object"], manifest["generated_at"], "CacheDocumentError",
            f"the part does not hold {entry['table_id']}, which the manifest's catalog puts there",
        )

    def _examples_in_order(self, manifest: Dict[str, Any], parts: Dict[int, Dict[str, Any]]) -> List[Dict[str, Any]]:
        """The examples of the parts given, in the document's order (``example_parts``)."""
        taken = [0] * len(manifest["parts"])
        out: List[Dict[str, Any]] = []
        for index in manifest["example_parts"]:
            position = taken[index]
            taken[index] += 1
            if index in parts:
                out.append(parts[index]["examples"][position])
        return out

    def _all_tables(self, manifest: Dict[str, Any]) -> Tuple[List[Dict[str, Any]], Dict[int, Dict[str, Any]]]:
        parts = self._parts_of(manifest, list(range(len(manifest["parts"]))))
        by_id = {t["table_id"]: t for p in parts.values() for t in p["tables"]}
        return [by_id[e["table_id"]] for e in manifest["catalog"]], parts

    # -- the seed's API -----------------------------------------------------------------------

    def get_schema_info(self) -> Dict[str, Any]:
        """The primary table: ``table_id``, ``last_updated`` (ISO text, as in the document), ``columns``, ``description``."""
        loaded = self._loaded_or_none()
        if loaded is None:
            return {}
        document = loaded.document
        schema = document["schema"]
        primary = document["catalog"][0] if loaded.manifest is not None else document["tables"][0]
        return {
            "table_id": schema["table_id"],
            "last_updated": schema["last_updated"],
            "columns": schema["columns"],
            "description": primary.get("description"),
        }

    def get_few_shot_examples(self, table_id: Optional[str] = None, language: Optional[str] = None) -> List[Dict[str, Any]]:
        """Validated question→SQL examples; only those reading ``table_id`` and/or in ``language`` when given.

        For a split document: every part without ``table_id``; with it, the table's part and the
        parts whose ``example_tables`` name it (an example lives with its first table).
        """
        loaded = self._loaded_or_none()
        if loaded is None:
            return []
        manifest = loaded.manifest
        wanted: Optional[List[str]] = None
        if manifest is None:
            examples = loaded.document["examples"]
            if table_id is not None:
                table = find_table(loaded.document, table_id)
                wanted = [table_id] + ([table["table_id"]] if table else [])
        elif table_id is None:
            examples = self._examples_in_order(manifest, self._parts_of(manifest, list(range(len(manifest["parts"])))))
        else:
            entry = self._catalog_entry(manifest, table_id)
            wanted = [table_id] + ([entry["table_id"]] if entry else [])
            indexes = {entry["part"]} if entry else set()
            indexes.update(i for i, ref in enumerate(manifest["parts"]) if any(t in wanted for t in ref["example_tables"]))
            examples = self._examples_in_order(manifest, self._parts_of(manifest, sorted(indexes)))
        return [
            e
            for e in examples
            if (language is None or e.get("language") == language)
            and (wanted is None or any(t in wanted for t in e.get("tables", [])))
        ]

    def get_schema_columns(self, table_id: Optional[str] = None) -> List[Dict[str, Any]]:
        """Every column and nested field of a table (the primary table by default), with dotted paths."""
        loaded = self._loaded_or_none()
        if loaded is None:
            return []
        manifest = loaded.manifest
        if manifest is None:
            document = loaded.document
            table = document["tables"][0] if table_id is None else find_table(document, table_id)
            cached = [t["table_id"] for t in document["tables"]]
        else:
            entry = manifest["catalog"][0] if table_id is None else self._catalog_entry(manifest, table_id)
            table = None if entry is None else self._table_of(manifest, entry)
            cached = [e["table_id"] for e in manifest["catalog"]]
        if table is None:
            raise TableNotCached(str(table_id), self.location, cached)
        return flatten_fields(table["columns"])

    def get_table(self, table_id: str) -> Optional[Dict[str, Any]]:
        """A table entry by id (a date shard or ``prefix*`` finds its family); ``None`` when not described."""
        loaded = self._loaded_or_none()
        if loaded is None:
            return None
        manifest = loaded.manifest
        if manifest is None:
            return find_table(loaded.document, table_id)
        entry = self._catalog_entry(manifest, table_id)
        return None if entry is None else self._table_of(manifest, entry)

    def list_tables(self) -> List[Dict[str, Any]]:
        """Every table entry, in the document's order (for a split document, every part is fetched)."""
        loaded = self._loaded_or_none()
        if loaded is None:
            return []
        if loaded.manifest is None:
            return list(loaded.document["tables"])
        return self._all_tables(loaded.manifest)[0]

    def get_document(self) -> Optional[Dict[str, Any]]:
        """The whole document, upgraded to format 2; a split one is joined from all its parts."""
        loaded = self._loaded_or_none()
        if loaded is None:
            return None
        manifest = loaded.manifest
        if manifest is None:
            return loaded.document
        tables, parts = self._all_tables(manifest)
        joined = {k: v for k, v in manifest.items() if k not in ("layout", "catalog", "parts", "example_parts")}
        joined.update(format_version=2, tables=tables, examples=self._examples_in_order(manifest, parts))
        return joined

    def get_manifest(self) -> Optional[Dict[str, Any]]:
        """The split layout's manifest, as loaded; ``None`` for a whole document."""
        loaded = self._loaded_or_none()
        return None if loaded is None else loaded.manifest

    def is_cache_available(self) -> bool:
        return self._current() is not None

    def get_cache_metadata(self) -> Dict[str, Any]:
        """Where the document is, its generation, format, layout, age, whether it expired, parts cached, and why the last check failed."""
        loaded = self._current()
        now = self._now()
        with self._lock:
            age = None if loaded is None else max(timedelta(0), now - loaded.generated_at)
            manifest = None if loaded is None else loaded.manifest
            metadata = {
                "available": loaded is not None,
                "location": self.location,
                "generation": None if loaded is None else loaded.version.generation,
                "format_version": None if loaded is None else loaded.format_version,
                "layout": None if loaded is None else ("split" if manifest is not None else "document"),
                "generated_at": None if loaded is None else loaded.generated_at,
                "generator": None if loaded is None else loaded.document.get("generator"),
                "age": age,
                "age_seconds": None if age is None else age.total_seconds(),
                "expired": loaded is not None
                and (age > self.max_age or loaded.generated_at - now > MAX_FUTURE_SKEW),
                "loaded_at": None if loaded is None else loaded.loaded_at,
                "checked_at": self._checked_at,
                "last_error": None if self._last_error is None else dict(self._last_error),
                "table_count": 0 if loaded is None else len(manifest["catalog"] if manifest is not None else loaded.document["tables"]),
                "example_count": 0 if loaded is None else len(manifest["example_parts"] if manifest is not None else loaded.document["examples"]),
            }
        with self._parts_lock:
            cached = set(self._parts.keys())
            metadata.update(
                part_count=0 if manifest is None else len(manifest["parts"]),
                parts_cached=[] if manifest is None else [r["key"] for r in manifest["parts"] if (r["object"], r["generation"]) in cached],
                part_cache_bytes=self._parts.used,
                part_cache_budget=self._parts.budget,
                last_part_error=None if self._last_part_error is None else dict(self._last_part_error),
            )
        return metadata

    def get_prompt_context(
        self,
        question: str,
        max_tokens: int = 2000,
        language: Optional[str] = None,
        max_tables: Optional[int] = None,
        max_examples: Optional[int] = None,
    ) -> Dict[str, Any]:
        """The prompt context for ``question``, from MetaSync's MCP server (not re-implemented here).

        Calls the server's ``get_prompt_context`` tool at ``mcp_url`` (or ``METASYNC_MCP_URL``), e.g.
        ``http://127.0.0.1:8080/mcp`` for ``metasync mcp --http`` or the Cloud Run service's
        ``https://…/mcp`` (with an identity token from the metadata server). Returns
        ``{text, tokens, tables, example_count, omitted}``; raises :class:`NotImplementedError`
        when no server is configured and :class:`StorageError` when it cannot be reached.
        """
        if not self.mcp_url:
            raise NotImplementedError(
                "the prompt context is rendered by MetaSync's MCP server: run `metasync mcp --http` (or deploy it to "
                "Cloud Run) and pass mcp_url=… or set METASYNC_MCP_URL"
            )
        arguments: Dict[str, Any] = {"question": question, "max_tokens": max_tokens}
        for key, value in (("language", language), ("max_tables", max_tables), ("max_examples", max_examples)):
            if value is not None:
                arguments[key] = value
        return call_mcp_tool(self.mcp_url, "get_prompt_context", arguments, self.mcp_token_provider)


def _identity_token_for(url: str) -> Optional[str]:
    """An identity token for a Cloud Run URL from the metadata server; ``None`` off GCP or for plain HTTP."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "https":
        return None
    audience = f"{parsed.scheme}://{parsed.netloc}"
    request = urllib.request.Request(
        METADATA_IDENTITY_URL + "?audience=" + urllib.parse.quote(audience, safe=""), headers={"Metadata-Flavor": "Google"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.read().decode("utf-8").strip()
    except (urllib.error.URLError, OSError):
        return None


def call_mcp_tool(
    url: str,
    tool: str,
    arguments: Dict[str, Any],
    token_provider: Optional[Callable[[], Optional[str]]] = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Dict[str, Any]:
    """Calls one tool of a stateless MCP server over Streamable HTTP (one JSON-RPC POST); returns its structured content."""
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    token = token_provider() if token_provider is not None else _identity_token_for(url)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}})
    request = urllib.request.Request(url, data=body.encode("utf-8"), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        raise StorageError(f"the MCP server at {url} answered HTTP {error.code}", error.code) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise StorageError(f"the MCP server at {url} could not be reached: {getattr(error, 'reason', error)}") from None
    if "error" in reply:
        raise MetaSyncCacheError(f"{tool}: {reply['error'].get('message', reply['error'])}")
    result = reply.get("result", {})
    if result.get("isError"):
        texts = [c.get("text", "") for c in result.get("content", []) if c.get("type") == "text"]
        raise MetaSyncCacheError(f"{tool}: {' '.join(texts)}")
    return result.get("structuredContent", {})


# ---------------------------------------------------------------------------------------------
# The seed's entry point
# ---------------------------------------------------------------------------------------------

_default_loader: Optional[MetaSyncCacheLoader] = None
_default_lock = threading.Lock()


def source_from_env(env: Optional[Dict[str, str]] = None) -> Any:
    """``METASYNC_CACHE_PATH`` (a file or directory), ``LOCAL_BUCKET_DIR``, or ``GCS_BUCKET``; ``CACHE_OBJECT`` names the object.

    ``METASYNC_CACHE_PATH`` naming a file that ends with ``CACHE_OBJECT`` (e.g. ``…/caches/metadata_cache.json``)
    reads it as that object of the bucket above it; without ``CACHE_OBJECT``, a split manifest's parts
    are still found from their names (``parts/<object>/…``).
    """
    env = dict(os.environ) if env is None else env
    object_name = env.get("CACHE_OBJECT") or DEFAULT_OBJECT_NAME
    if env.get("METASYNC_CACHE_PATH"):
        path = env["METASYNC_CACHE_PATH"]
        named = env.get("CACHE_OBJECT")
        # A manifest whose object name has folders: the bucket's root is the path without it, so that
        # its parts (named from the root) and its generation (in the root's sidecar) are found.
        if named and "/" in named and os.path.isfile(path):
            suffix = os.sep + os.path.normpath(named)
            absolute = os.path.abspath(path)
            if absolute.endswith(suffix):
                return LocalSource(absolute[: -len(suffix)] or os.sep, named)
        return LocalSource(path)
    if env.get("LOCAL_BUCKET_DIR"):
        return LocalSource(env["LOCAL_BUCKET_DIR"], object_name)
    if env.get("GCS_BUCKET"):
        return GcsSource(env["GCS_BUCKET"], object_name)
    raise ValueError("MetaSync cache loader: set GCS_BUCKET (or LOCAL_BUCKET_DIR, or METASYNC_CACHE_PATH)")


def part_cache_bytes_from_env(env: Optional[Dict[str, str]] = None) -> Optional[int]:
    """``PART_CACHE_BYTES`` (bytes of parts kept, as stored; ``0`` keeps none), or ``None`` when unset; raises naming it when invalid."""
    env = dict(os.environ) if env is None else env
    value = env.get("PART_CACHE_BYTES")
    if not value:
        return None
    if not re.fullmatch(r"[0-9]+", value):
        raise ValueError(f"MetaSync cache loader: PART_CACHE_BYTES is invalid: expected a whole number of bytes, 0 or more; got {value!r}")
    return int(value)


def get_metasync_cache_loader(**options: Any) -> MetaSyncCacheLoader:
    """The process's one loader, at the location the environment names (created on first call).

    ``options`` (``source``, ``refresh_interval``, ``clock``, …) apply to the first call only.
    ``PART_CACHE_BYTES`` sets ``part_cache_bytes`` when not given, as the TypeScript loader reads it.
    """
    global _default_loader
    with _default_lock:
        if _default_loader is None:
            if "part_cache_bytes" not in options:
                budget = part_cache_bytes_from_env()
                if budget is not None:
                    options["part_cache_bytes"] = budget
            source = options.pop("source", None) or source_from_env()
            _default_loader = MetaSyncCacheLoader(source, **options)
        return _default_loader


def _reset_default_loader() -> None:
    """For tests: forget the process's loader."""
    global _default_loader
    with _default_lock:
        _default_loader = None
