"""Tests of metasync_cache_loader.py: `python3 -m unittest discover -s python` (or `npm run test:python`).

The documents are what a real sync of the shipped sample publishes: the module's setup runs
`node src/entry/cli.ts sync` in local mode into a temporary bucket directory. Split caches (format 3)
are that document, grown to several datasets, stored by the contract's own functions
(python/split_cache_fixture.ts: planParts, makeManifest and LocalStorage). Cloud Storage is the
TypeScript tests' local fake (test/support/FakeGcsServer.ts), started as a child process on
127.0.0.1. Time is a clock the tests move; nothing sleeps.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import queue
import re
import threading
import time
import unittest
import urllib.parse
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT_ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import metasync_cache_loader as msl  # noqa: E402

SAMPLE_TABLE = "nlq-ex.test_dataset.events_20210131"
OBJECT = "metadata_cache.json"
SEED_FIXTURE = os.path.join(PROJECT_ROOT, "test", "fixtures", "cache", "seed-example.json")


def node_binary() -> str:
    """Node 22 (the project's `node` devDependency when installed), which runs the TypeScript sources."""
    if os.environ.get("METASYNC_NODE"):
        return os.environ["METASYNC_NODE"]
    local = os.path.join(PROJECT_ROOT, "node_modules", ".bin", "node")
    return local if os.path.exists(local) else "node"


def clean_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT")}
    env.update(extra)
    return env


def run_sync(bucket_dir: str) -> None:
    """`metasync sync` in local mode: the shipped sample table and curated examples, into `bucket_dir`."""
    result = subprocess.run(
        [node_binary(), os.path.join("src", "entry", "cli.ts"), "sync"],
        cwd=PROJECT_ROOT,
        env=clean_env(
            METASYNC_MODE="local",
            LOCAL_BUCKET_DIR=bucket_dir,
            LOCAL_TABLES_DIR=os.path.join(PROJECT_ROOT, "samples", "tables"),
            CURATED_EXAMPLES_DIR=os.path.join(PROJECT_ROOT, "examples"),
        ),
        capture_output=True,
        text=True,
        timeout=180,
    )
    if result.returncode != 0:
        raise RuntimeError(f"metasync sync failed ({result.returncode}):\n{result.stderr}")


class FakeGcs:
    """test/support/fake-gcs-process.ts: the local Cloud Storage, driven by JSON lines."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [node_binary(), os.path.join("test", "support", "fake-gcs-process.ts")],
            cwd=PROJECT_ROOT,
            env=clean_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        first = self._read_line(what="the fake GCS server's address")
        self.url: str = json.loads(first)["url"]
        self._lock = threading.Lock()

    def _read_line(self, what: str) -> str:
        # Bounded: a child that dies closes stdout, so readline returns "" instead of blocking.
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise RuntimeError(f"no answer from fake-gcs-process.ts while waiting for {what}:\n{stderr}")
        return line

    def command(self, **command: Any) -> Dict[str, Any]:
        with self._lock:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
            reply = json.loads(self._read_line(what=command["op"]))
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def put(self, bucket: str, name: str, text: str) -> str:
        return self.command(op="put", bucket=bucket, name=name, text=text)["generation"]

    def requests(self, kind: Optional[str] = None) -> List[Dict[str, Any]]:
        return self.command(op="requests", **({} if kind is None else {"kind": kind}))["requests"]

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()


class ManualClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


_workspace = ""
_bucket = ""
_published = ""


def setUpModule() -> None:
    global _workspace, _bucket, _published
    _workspace = tempfile.mkdtemp(prefix="metasync-python-")
    _bucket = os.path.join(_workspace, "bucket")
    run_sync(_bucket)
    with open(os.path.join(_bucket, OBJECT), "r", encoding="utf-8") as f:
        _published = f.read()


def tearDownModule() -> None:
    shutil.rmtree(_workspace, ignore_errors=True)


def generated_at() -> datetime:
    return msl.parse_timestamp(json.loads(_published)["generated_at"])


def copy_bucket() -> str:
    target = tempfile.mkdtemp(prefix="bucket-", dir=_workspace)
    shutil.rmtree(target)
    shutil.copytree(_bucket, target)
    return target


def replace_file(path: str, text: str) -> None:
    """Writes `text` over `path` as a new file renamed into place (a new inode, as the sync writes)."""
    temp = path + ".tmp"
    with open(temp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(temp, path)


class LocalBucketTest(unittest.TestCase):
    def loader(self, source: Any, **options: Any) -> msl.MetaSyncCacheLoader:
        options.setdefault("clock", ManualClock(generated_at() + timedelta(minutes=5)))
        return msl.MetaSyncCacheLoader(source, **options)

    def test_serves_the_synced_document_with_the_seed_api(self) -> None:
        loader = self.loader(msl.LocalSource(_bucket))
        self.assertTrue(loader.is_cache_available())

        info = loader.get_schema_info()
        self.assertEqual(info["table_id"], SAMPLE_TABLE)
        self.assertEqual(len(info["columns"]), 23)
        self.assertIn("GA4", info["description"])

        examples = loader.get_few_shot_examples()
        self.assertEqual(len(examples), 14)  # six curated, eight generated (npm run sync)
        self.assertEqual({e["source"] for e in examples}, {"template", "curated"})
        self.assertTrue(all(SAMPLE_TABLE in e["tables"] for e in examples))
        self.assertEqual(loader.get_few_shot_examples(language="en"), [])
        self.assertEqual(len(loader.get_few_shot_examples(table_id=SAMPLE_TABLE, language="ko")), 14)

        columns = loader.get_schema_columns()
        self.assertEqual(len(columns), 108)
        nested = next(c for c in columns if c["path"] == "event_params.value.string_value")
        self.assertEqual(nested["repeated"], ["event_params"])
        self.assertEqual(nested["depth"], 2)
        self.assertEqual(loader.get_schema_columns(SAMPLE_TABLE), columns)

        table = loader.get_table(SAMPLE_TABLE)
        self.assertIsNotNone(table)
        assert table is not None
        self.assertEqual(table["status"], {"state": "fresh"})
        joins = next(p for p in table["field_paths"] if p["path"] == "event_params.value.string_value")["joins"]
        self.assertIn("CROSS JOIN UNNEST(event_params)", joins[0])
        self.assertIsNone(loader.get_table("nlq-ex.test_dataset.nope"))
        self.assertEqual([t["table_id"] for t in loader.list_tables()], [SAMPLE_TABLE])
        with self.assertRaises(msl.TableNotCached) as raised:
            loader.get_schema_columns("nlq-ex.test_dataset.nope")
        self.assertIn("it describes nlq-ex.test_dataset.events_20210131", str(raised.exception))

    def test_metadata_is_timezone_aware_and_names_the_local_generation(self) -> None:
        clock = ManualClock(generated_at() + timedelta(hours=2))
        loader = self.loader(msl.LocalSource(_bucket), clock=clock)
        metadata = loader.get_cache_metadata()
        with open(os.path.join(_bucket, msl.GENERATIONS_DIR, OBJECT), "r", encoding="utf-8") as f:
            self.assertEqual(metadata["generation"], f.read().strip())
        self.assertEqual(metadata["location"], os.path.join(_bucket, OBJECT))
        self.assertEqual(metadata["format_version"], 2)
        self.assertEqual((metadata["layout"], metadata["part_count"], metadata["parts_cached"]), ("document", 0, []))
        self.assertEqual(metadata["generated_at"], generated_at())
        self.assertEqual(metadata["generated_at"].tzinfo, timezone.utc)
        self.assertEqual(metadata["loaded_at"], clock.now)
        self.assertEqual(metadata["age"], timedelta(hours=2))
        self.assertEqual(metadata["age_seconds"], 7200.0)
        self.assertFalse(metadata["expired"])
        self.assertIsNone(metadata["last_error"])
        self.assertEqual((metadata["table_count"], metadata["example_count"]), (1, 14))
        self.assertEqual(metadata["generator"]["name"], "metasync")

    def test_reads_a_file_and_the_seeds_format_1(self) -> None:
        loader = self.loader(msl.LocalSource(os.path.join(_bucket, OBJECT)))
        self.assertEqual(loader.get_schema_info()["table_id"], SAMPLE_TABLE)

        seed = self.loader(msl.LocalSource(SEED_FIXTURE), clock=ManualClock(datetime(2024, 1, 15, 18, tzinfo=timezone.utc)))
        self.assertEqual(seed.get_cache_metadata()["format_version"], 1)
        self.assertEqual(seed.get_few_shot_examples()[0]["source"], "legacy")
        self.assertEqual(seed.get_schema_info()["columns"][0]["name"], "event_timestamp")
        self.assertIsNone(seed.get_schema_info()["description"])

    def test_refreshes_hourly_by_generation_after_a_new_sync(self) -> None:
        bucket = copy_bucket()
        clock = ManualClock(generated_at() + timedelta(minutes=1))
        loader = self.loader(msl.LocalSource(bucket), clock=clock)
        first = loader.get_cache_metadata()

        run_sync(bucket)  # a real second publish: a new generation in the sidecar, a new file
        clock.advance(timedelta(minutes=59))
        self.assertEqual(loader.get_cache_metadata()["generation"], first["generation"])
        clock.advance(timedelta(minutes=1))
        second = loader.get_cache_metadata()
        self.assertNotEqual(second["generation"], first["generation"])
        self.assertGreater(int(second["generation"]), int(first["generation"]))
        self.assertGreater(second["generated_at"], first["generated_at"])
        self.assertEqual(second["loaded_at"], clock.now)

    def test_flags_an_expired_document_and_keeps_serving_it(self) -> None:
        clock = ManualClock(generated_at() + timedelta(hours=24, seconds=1))
        loader = self.loader(msl.LocalSource(_bucket), clock=clock)
        self.assertTrue(loader.get_cache_metadata()["expired"])
        self.assertEqual(len(loader.get_few_shot_examples()), 14)

    def test_flags_a_document_stamped_more_than_5_minutes_ahead_as_expired(self) -> None:
        clock = ManualClock(generated_at() - timedelta(minutes=5))
        loader = self.loader(msl.LocalSource(_bucket), clock=clock)
        self.assertFalse(loader.get_cache_metadata()["expired"])
        clock = ManualClock(generated_at() - timedelta(minutes=5, milliseconds=1))
        loader = self.loader(msl.LocalSource(_bucket), clock=clock)
        self.assertTrue(loader.get_cache_metadata()["expired"])
        self.assertEqual(len(loader.get_few_shot_examples()), 14)

    def test_keeps_the_last_good_copy_when_the_document_turns_corrupt_or_disappears(self) -> None:
        bucket = copy_bucket()
        file = os.path.join(bucket, OBJECT)
        clock = ManualClock(generated_at())
        loader = self.loader(msl.LocalSource(bucket), clock=clock)
        good = loader.get_cache_metadata()["generation"]

        replace_file(file, '{"format_version": 2, "tables": [')
        clock.advance(timedelta(hours=1))
        with self.assertLogs("metasync_cache_loader", level="WARNING") as logs:
            metadata = loader.get_cache_metadata()
        self.assertIn(f"keeping the MetaSync cache copy of generation {good}", logs.output[0])
        self.assertTrue(metadata["available"])
        self.assertEqual(metadata["generation"], good)
        self.assertEqual(metadata["last_error"]["tag"], "CacheDocumentError")
        self.assertIn("not JSON", metadata["last_error"]["message"])
        self.assertEqual(metadata["last_error"]["at"], clock.now)
        self.assertEqual(len(loader.get_few_shot_examples()), 14)

        # After a failure the next check comes after the retry interval, not an hour.
        os.remove(file)
        clock.advance(timedelta(seconds=59))
        self.assertEqual(loader.get_cache_metadata()["last_error"]["tag"], "CacheDocumentError")
        clock.advance(timedelta(seconds=1))
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            missing = loader.get_cache_metadata()
        self.assertEqual(missing["last_error"]["tag"], "ResourceNotFound")
        self.assertEqual(missing["generation"], good)

        replace_file(file, _published)
        clock.advance(timedelta(minutes=1))
        self.assertIsNone(loader.get_cache_metadata()["last_error"])

    def test_refuses_a_future_format_version_clearly(self) -> None:
        bucket = copy_bucket()
        future = json.loads(_published)
        future["format_version"] = 4
        replace_file(os.path.join(bucket, OBJECT), json.dumps(future))
        loader = self.loader(msl.LocalSource(bucket), strict=True)
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            with self.assertRaises(msl.CacheUnavailable) as raised:
                loader.get_schema_info()
        self.assertIn("format_version: 4 is not a format this loader reads (1, 2, 3)", str(raised.exception))
        self.assertEqual(loader.get_cache_metadata()["last_error"]["tag"], "UnsupportedFormatVersion")

    def test_without_a_document_answers_empty_or_raises_when_strict(self) -> None:
        empty = tempfile.mkdtemp(dir=_workspace)
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            loader = self.loader(msl.LocalSource(empty))
            self.assertFalse(loader.is_cache_available())
        self.assertEqual(loader.get_schema_info(), {})
        self.assertEqual(loader.get_few_shot_examples(), [])
        self.assertEqual(loader.get_schema_columns(), [])
        self.assertIsNone(loader.get_table(SAMPLE_TABLE))
        self.assertEqual(loader.list_tables(), [])
        metadata = loader.get_cache_metadata()
        self.assertFalse(metadata["available"])
        self.assertEqual(metadata["last_error"]["message"], f"{os.path.join(empty, OBJECT)} does not exist")

        strict = self.loader(msl.LocalSource(empty), strict=True)
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            with self.assertRaises(msl.CacheUnavailable) as raised:
                strict.get_few_shot_examples()
        self.assertIn("does not exist", str(raised.exception))

    def test_without_an_mcp_server_the_prompt_context_says_where_to_get_it(self) -> None:
        loader = self.loader(msl.LocalSource(_bucket), mcp_url="")
        with self.assertRaises(NotImplementedError) as raised:
            loader.get_prompt_context("국가별 사용자 수", max_tokens=1000)
        self.assertIn("metasync mcp --http", str(raised.exception))
        self.assertIn("METASYNC_MCP_URL", str(raised.exception))

    def test_get_metasync_cache_loader_reads_the_environment_once(self) -> None:
        msl._reset_default_loader()
        saved = {k: os.environ.get(k) for k in ("LOCAL_BUCKET_DIR", "GCS_BUCKET", "METASYNC_CACHE_PATH", "CACHE_OBJECT")}
        try:
            for k in saved:
                os.environ.pop(k, None)
            os.environ["LOCAL_BUCKET_DIR"] = _bucket
            loader = msl.get_metasync_cache_loader()
            self.assertIs(msl.get_metasync_cache_loader(), loader)
            self.assertEqual(loader.get_schema_info()["table_id"], SAMPLE_TABLE)
            self.assertEqual(loader.location, os.path.join(_bucket, OBJECT))
        finally:
            msl._reset_default_loader()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def test_a_naive_clock_is_refused(self) -> None:
        loader = msl.MetaSyncCacheLoader(msl.LocalSource(_bucket), clock=lambda: datetime(2026, 1, 1))
        with self.assertRaises(ValueError):
            loader.is_cache_available()


class ValidationTest(unittest.TestCase):
    def problems(self, document: Any) -> List[str]:
        with self.assertRaises(msl.CacheDocumentError) as raised:
            msl.validate_document(document, "doc")
        return raised.exception.problems

    def test_the_synced_document_and_the_seed_are_valid(self) -> None:
        self.assertEqual(msl.validate_document(json.loads(_published)), 2)
        with open(SEED_FIXTURE, "r", encoding="utf-8") as f:
            self.assertEqual(msl.validate_document(json.load(f)), 1)

    def test_names_each_missing_or_mistyped_field(self) -> None:
        document = json.loads(_published)
        del document["tables"][0]["columns"][0]["type"]
        document["examples"][0]["language"] = "fr"
        document["generated_at"] = "yesterday"
        problems = self.problems(document)
        self.assertIn("tables[0].columns[0]: missing required field 'type'", problems)
        self.assertTrue(any(p.startswith("examples[0].language: expected one of") for p in problems), problems)
        self.assertIn('generated_at: "yesterday" is not an ISO-8601 timestamp', problems)

    def test_refuses_unknown_versions_and_non_objects(self) -> None:
        for version in (4, "2", None, True):
            with self.assertRaises(msl.UnsupportedFormatVersion):
                msl.validate_document({**json.loads(_published), "format_version": version})
        self.assertEqual(self.problems([1, 2]), ["(document): expected a JSON object, got list"])
        with self.assertRaises(msl.CacheDocumentError) as raised:
            msl.load_document(b"\xff\xfe", "doc")
        self.assertIn("not UTF-8", str(raised.exception))

    def test_fields_added_later_are_accepted(self) -> None:
        document = json.loads(_published)
        document["lineage"] = [{"from": "a", "to": "b"}]  # a field no reader knows yet ("relationships" now exists)
        document["tables"][0]["glossary"] = ["term"]
        self.assertEqual(msl.validate_document(document), 2)


# ---------------------------------------------------------------------------------------------
# The split layout (format 3)
# ---------------------------------------------------------------------------------------------

USERS = "nlq-ex.test_dataset.users"
SESSIONS = "nlq-ex.web_dataset.sessions"
ORDERS = "nlq-ex.shop_dataset.orders_20240131"
ORDERS_SHARD = "nlq-ex.shop_dataset.orders_20240115"
PRIMARY_PART, WEB_PART, SHOP_PART = "nlq-ex.test_dataset", "nlq-ex.web_dataset", "nlq-ex.shop_dataset"


def grown_document() -> Dict[str, Any]:
    """The synced document grown to three datasets: the primary's (with a second table), web's and shop's (a sharded family).

    Two more examples: one that reads sessions first and the primary table second (it lives in web's
    part, which names the primary table in its ``example_tables``), and one that reads a shard of orders.
    """
    document = json.loads(_published)
    primary = document["tables"][0]

    def clone(table_id: str, **fields: Any) -> Dict[str, Any]:
        table = json.loads(json.dumps(primary))
        table["table_id"] = table_id
        table.update(fields)
        return table

    document["tables"] += [
        clone(USERS, description="users"),
        clone(SESSIONS, description="sessions"),
        clone(ORDERS, description="orders", sharding={"prefix": "orders_", "first_suffix": "20240101", "last_suffix": "20240131", "shard_count": 31}),
    ]
    template = document["examples"][0]
    document["examples"] += [
        {**json.loads(json.dumps(template)), "question": "sessions per event", "tables": [SESSIONS, SAMPLE_TABLE]},
        {**json.loads(json.dumps(template)), "question": "orders of mid-January", "tables": [ORDERS_SHARD]},
    ]
    return document


def store_split(
    document: Dict[str, Any], bucket: str, max_part_tables: Optional[int] = None, run: str = "test-run", object_name: str = OBJECT,
) -> Dict[str, Any]:
    """Stores `document` split into `bucket` (python/split_cache_fixture.ts); returns the manifest as stored."""
    document_file = os.path.join(_workspace, f"document-{time.monotonic_ns()}.json")
    with open(document_file, "w", encoding="utf-8") as f:
        json.dump(document, f)
    args = [document_file, bucket, str(max_part_tables or 500), object_name, run]
    result = subprocess.run(
        [node_binary(), os.path.join("python", "split_cache_fixture.ts"), *args],
        cwd=PROJECT_ROOT, env=clean_env(), capture_output=True, text=True, timeout=180,
    )
    if result.returncode != 0:
        raise RuntimeError(f"split_cache_fixture.ts failed ({result.returncode}):\n{result.stderr}")
    with open(os.path.join(bucket, object_name), "r", encoding="utf-8") as f:
        return json.load(f)


_split_bucket = ""
_whole_bucket = ""


def split_fixtures() -> None:
    """The grown document split (in `_split_bucket`) and whole (in `_whole_bucket`), made once."""
    global _split_bucket, _whole_bucket
    if _split_bucket:
        return
    _whole_bucket = os.path.join(_workspace, "whole")
    os.makedirs(_whole_bucket)
    with open(os.path.join(_whole_bucket, OBJECT), "w", encoding="utf-8") as f:
        json.dump(grown_document(), f)
    _split_bucket = os.path.join(_workspace, "split")
    store_split(grown_document(), _split_bucket)


def copy_split() -> str:
    split_fixtures()
    target = os.path.join(tempfile.mkdtemp(prefix="split-", dir=_workspace), "bucket")
    shutil.copytree(_split_bucket, target)
    return target


def manifest_of(bucket: str) -> Dict[str, Any]:
    with open(os.path.join(bucket, OBJECT), "r", encoding="utf-8") as f:
        return json.load(f)


def part_ref(manifest: Dict[str, Any], key: str) -> Dict[str, Any]:
    return next(r for r in manifest["parts"] if r["key"] == key)


class SplitLayoutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        split_fixtures()

    def loader(self, bucket: str, **options: Any) -> msl.MetaSyncCacheLoader:
        options.setdefault("clock", ManualClock(generated_at() + timedelta(minutes=5)))
        return msl.MetaSyncCacheLoader(msl.LocalSource(bucket), **options)

    def test_serves_what_the_whole_document_serves(self) -> None:
        split, whole = self.loader(_split_bucket), self.loader(_whole_bucket)
        self.assertEqual(split.get_schema_info(), whole.get_schema_info())
        self.assertEqual(split.list_tables(), whole.list_tables())
        self.assertEqual([t["table_id"] for t in split.list_tables()], [SAMPLE_TABLE, USERS, SESSIONS, ORDERS])
        self.assertEqual(split.get_few_shot_examples(), whole.get_few_shot_examples())
        self.assertEqual(len(split.get_few_shot_examples()), 16)
        for table_id in (SAMPLE_TABLE, SESSIONS, ORDERS, ORDERS_SHARD, "nlq-ex.shop_dataset.orders_*", USERS, "nlq-ex.nope.x"):
            self.assertEqual(split.get_few_shot_examples(table_id), whole.get_few_shot_examples(table_id), table_id)
            self.assertEqual(split.get_table(table_id), whole.get_table(table_id), table_id)
        self.assertEqual(len(split.get_few_shot_examples(SAMPLE_TABLE)), 15)
        self.assertEqual([e["question"] for e in split.get_few_shot_examples(ORDERS_SHARD)], ["orders of mid-January"])
        self.assertEqual(split.get_schema_columns(), whole.get_schema_columns())
        self.assertEqual(split.get_schema_columns(SESSIONS), whole.get_schema_columns(SESSIONS))
        with self.assertRaises(msl.TableNotCached) as raised:
            split.get_schema_columns("nlq-ex.nope.x")
        self.assertIn(f"it describes {SAMPLE_TABLE}, {USERS}, {SESSIONS}, {ORDERS}", str(raised.exception))
        self.assertEqual(split.get_document(), whole.get_document())
        self.assertIsNone(whole.get_manifest())
        self.assertEqual(split.get_manifest(), manifest_of(_split_bucket))

    def test_fetches_only_the_parts_a_call_needs(self) -> None:
        loader = self.loader(_split_bucket)
        self.assertEqual(loader.get_schema_info()["table_id"], SAMPLE_TABLE)
        metadata = loader.get_cache_metadata()
        self.assertEqual((metadata["format_version"], metadata["layout"], metadata["part_count"]), (3, "split", 3))
        self.assertEqual((metadata["table_count"], metadata["example_count"]), (4, 16))
        self.assertEqual(metadata["parts_cached"], [])
        with open(os.path.join(_split_bucket, msl.GENERATIONS_DIR, OBJECT), "r", encoding="utf-8") as f:
            self.assertEqual(metadata["generation"], f.read().strip())

        self.assertEqual(loader.get_table(SESSIONS)["description"], "sessions")
        self.assertEqual(loader.get_cache_metadata()["parts_cached"], [WEB_PART])
        # The primary table's examples: its own part, and web's, whose example reads it second.
        examples = loader.get_few_shot_examples(SAMPLE_TABLE)
        self.assertEqual(examples[-1]["question"], "sessions per event")
        self.assertEqual(loader.get_cache_metadata()["parts_cached"], [PRIMARY_PART, WEB_PART])
        self.assertEqual(loader.get_table(ORDERS_SHARD)["table_id"], ORDERS)
        metadata = loader.get_cache_metadata()
        self.assertEqual(metadata["parts_cached"], [PRIMARY_PART, WEB_PART, SHOP_PART])
        self.assertEqual(metadata["part_cache_bytes"], sum(r["bytes"] for r in manifest_of(_split_bucket)["parts"]))
        self.assertIsNone(metadata["last_part_error"])

    def test_a_part_at_another_generation_is_refused_and_the_manifest_stays(self) -> None:
        bucket = copy_split()
        ref = part_ref(manifest_of(bucket), WEB_PART)
        # Deleted and written again (same bytes): the local storage gives it a new generation.
        with open(os.path.join(bucket, msl.GENERATIONS_DIR, ref["object"]), "w", encoding="utf-8") as f:
            f.write(str(int(ref["generation"]) + 1))
        loader = self.loader(bucket)
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            with self.assertRaises(msl.PartUnavailable) as raised:
                loader.get_table(SESSIONS)
        error = raised.exception
        self.assertEqual((error.key, error.reason_tag), (WEB_PART, "GenerationMismatch"))
        self.assertIn(f"part {WEB_PART} ({os.path.join(bucket, ref['object'])})", str(error))
        self.assertIn(f"generation {int(ref['generation']) + 1}; the manifest references generation {ref['generation']}", str(error))
        metadata = loader.get_cache_metadata()
        self.assertTrue(metadata["available"])
        self.assertIsNone(metadata["last_error"])
        self.assertEqual(metadata["last_part_error"]["part"], WEB_PART)
        self.assertEqual(metadata["last_part_error"]["object"], ref["object"])
        self.assertEqual(metadata["last_part_error"]["tag"], "GenerationMismatch")
        # Another part loading says nothing of this one: the error stays until this part loads.
        self.assertEqual(loader.get_table(SAMPLE_TABLE)["table_id"], SAMPLE_TABLE)
        self.assertEqual(loader.get_cache_metadata()["last_part_error"]["part"], WEB_PART)

    def test_a_missing_part_is_named_and_the_other_parts_still_serve(self) -> None:
        bucket = copy_split()
        ref = part_ref(manifest_of(bucket), SHOP_PART)
        os.remove(os.path.join(bucket, ref["object"]))
        clock = ManualClock(generated_at())
        loader = self.loader(bucket, clock=clock)
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            with self.assertRaises(msl.PartUnavailable) as raised:
                loader.list_tables()
        self.assertEqual((raised.exception.key, raised.exception.reason_tag), (SHOP_PART, "ResourceNotFound"))
        self.assertIn(f"{os.path.join(bucket, ref['object'])} does not exist", str(raised.exception))
        self.assertEqual(len(loader.get_few_shot_examples(SESSIONS)), 1)
        self.assertTrue(loader.is_cache_available())

        # Put back: not looked for again until the retry interval has passed; the same error meanwhile.
        with open(os.path.join(_split_bucket, ref["object"]), "rb") as f:
            restored = f.read()
        with open(os.path.join(bucket, ref["object"]), "wb") as f:
            f.write(restored)
        clock.advance(timedelta(seconds=59))
        for call in (loader.get_few_shot_examples, lambda: loader.get_schema_columns(ORDERS)):
            with self.assertRaises(msl.PartUnavailable) as again:
                call()
            self.assertIs(again.exception, raised.exception)
        clock.advance(timedelta(seconds=1))
        self.assertEqual(len(loader.get_schema_columns(ORDERS)), 108)
        self.assertIsNone(loader.get_cache_metadata()["last_part_error"])

    def test_a_part_that_is_not_the_one_named_is_refused(self) -> None:
        bucket = copy_split()
        manifest = manifest_of(bucket)
        web, shop = part_ref(manifest, WEB_PART), part_ref(manifest, SHOP_PART)
        # Bytes replaced under the same generation: one invalid, the other another part's.
        replace_file(os.path.join(bucket, web["object"]), '{"format_version": 3, "layout": "part", "key": "x"}')
        with open(os.path.join(bucket, web["object"].replace(WEB_PART, PRIMARY_PART)), "r", encoding="utf-8") as f:
            replace_file(os.path.join(bucket, shop["object"]), f.read())
        loader = self.loader(bucket)
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            with self.assertRaises(msl.PartUnavailable) as raised:
                loader.get_table(SESSIONS)
        self.assertEqual(raised.exception.reason_tag, "CacheDocumentError")
        self.assertIn("missing required field 'tables'", str(raised.exception))
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            with self.assertRaises(msl.PartUnavailable) as raised:
                loader.get_table(ORDERS)
        self.assertIn(f"holds part {PRIMARY_PART} with 2 tables and 14 examples; the manifest expects {SHOP_PART} with 1 and 1", str(raised.exception))

    def test_keeps_recently_used_parts_within_the_byte_budget(self) -> None:
        bucket = copy_split()
        manifest = manifest_of(bucket)
        size = {r["key"]: r["bytes"] for r in manifest["parts"]}
        budget = size[PRIMARY_PART] + size[WEB_PART] + size[SHOP_PART] - 1
        loader = self.loader(bucket, part_cache_bytes=budget)
        loader.get_table(SAMPLE_TABLE)
        loader.get_table(SESSIONS)
        loader.get_table(USERS)  # the primary part is now the most recently used
        loader.get_table(ORDERS)
        metadata = loader.get_cache_metadata()
        self.assertEqual(metadata["parts_cached"], [PRIMARY_PART, SHOP_PART])
        self.assertEqual(metadata["part_cache_bytes"], size[PRIMARY_PART] + size[SHOP_PART])
        self.assertEqual(metadata["part_cache_budget"], budget)

        # Served from memory: their files are gone. Web's was dropped, so it is fetched, and fails.
        for ref in manifest["parts"]:
            os.remove(os.path.join(bucket, ref["object"]))
        self.assertEqual(loader.get_table(USERS)["table_id"], USERS)
        self.assertEqual(len(loader.get_few_shot_examples(ORDERS_SHARD)), 1)
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            with self.assertRaises(msl.PartUnavailable):
                loader.get_table(SESSIONS)

    def test_a_budget_smaller_than_a_part_still_serves_every_call(self) -> None:
        loader = self.loader(_split_bucket, part_cache_bytes=1000)
        self.assertEqual(len(loader.list_tables()), 4)
        self.assertEqual(len(loader.get_few_shot_examples()), 16)
        metadata = loader.get_cache_metadata()
        self.assertEqual((metadata["parts_cached"], metadata["part_cache_bytes"]), ([], 0))
        with self.assertRaises(ValueError):
            self.loader(_split_bucket, part_cache_bytes=-1)

    def test_a_new_manifest_drops_the_parts_it_no_longer_references(self) -> None:
        bucket = copy_split()
        clock = ManualClock(generated_at())
        loader = self.loader(bucket, clock=clock)
        loader.get_table(SESSIONS)
        first = loader.get_cache_metadata()["generation"]
        grown = grown_document()
        grown["tables"] = grown["tables"][:3]
        grown["examples"] = grown["examples"][:-1]
        store_split(grown, bucket, max_part_tables=1, run="run-2")
        clock.advance(timedelta(hours=1))
        metadata = loader.get_cache_metadata()
        self.assertNotEqual(metadata["generation"], first)
        self.assertEqual((metadata["part_count"], metadata["parts_cached"], metadata["part_cache_bytes"]), (3, [], 0))
        self.assertEqual([r["key"] for r in loader.get_manifest()["parts"]], [PRIMARY_PART, f"{PRIMARY_PART}-2", WEB_PART])
        self.assertEqual(loader.get_table(USERS)["table_id"], USERS)
        self.assertIsNone(loader.get_table(ORDERS))
        self.assertEqual(loader.get_cache_metadata()["parts_cached"], [f"{PRIMARY_PART}-2"])

    def test_a_part_outside_the_bucket_directory_is_not_read(self) -> None:
        bucket = copy_split()
        manifest = manifest_of(bucket)
        part_ref(manifest, WEB_PART)["object"] = "../outside.json"
        part_ref(manifest, SHOP_PART)["object"] = f"{msl.GENERATIONS_DIR}/{OBJECT}"
        replace_file(os.path.join(bucket, OBJECT), json.dumps(manifest))
        loader = self.loader(bucket)
        for table_id in (SESSIONS, ORDERS):
            with self.assertLogs("metasync_cache_loader", level="WARNING"):
                with self.assertRaises(msl.PartUnavailable) as raised:
                    loader.get_table(table_id)
            self.assertIn("leaves the storage directory", str(raised.exception))


class PartCacheBytesFromEnvTest(unittest.TestCase):
    def test_is_read_and_checked(self) -> None:
        self.assertIsNone(msl.part_cache_bytes_from_env({}))
        self.assertEqual(msl.part_cache_bytes_from_env({"PART_CACHE_BYTES": "0"}), 0)
        self.assertEqual(msl.part_cache_bytes_from_env({"PART_CACHE_BYTES": "268435456"}), 268435456)
        for value in ("64MiB", "-1", "1.5", "1e9"):
            with self.assertRaises(ValueError) as raised:
                msl.part_cache_bytes_from_env({"PART_CACHE_BYTES": value})
            self.assertIn("PART_CACHE_BYTES is invalid: expected a whole number of bytes, 0 or more", str(raised.exception))

    def test_the_process_loader_takes_it(self) -> None:
        split_fixtures()
        msl._reset_default_loader()
        saved = {k: os.environ.get(k) for k in ("LOCAL_BUCKET_DIR", "GCS_BUCKET", "METASYNC_CACHE_PATH", "CACHE_OBJECT", "PART_CACHE_BYTES")}
        try:
            for k in saved:
                os.environ.pop(k, None)
            os.environ["LOCAL_BUCKET_DIR"] = _split_bucket
            os.environ["PART_CACHE_BYTES"] = "0"
            loader = msl.get_metasync_cache_loader(clock=ManualClock(generated_at() + timedelta(minutes=5)))
            self.assertEqual(loader.get_table(SESSIONS)["description"], "sessions")
            self.assertEqual(loader.get_cache_metadata()["parts_cached"], [])
        finally:
            msl._reset_default_loader()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


class ManifestInAFolderTest(unittest.TestCase):
    """A manifest whose object name has a folder (``caches/metadata_cache.json``), read by its path."""

    NAMED = "caches/metadata_cache.json"

    @classmethod
    def setUpClass(cls) -> None:
        split_fixtures()
        cls.bucket = os.path.join(tempfile.mkdtemp(prefix="folder-", dir=_workspace), "bucket")
        cls.manifest = store_split(grown_document(), cls.bucket, object_name=cls.NAMED)
        cls.path = os.path.join(cls.bucket, "caches", "metadata_cache.json")

    def loader(self, source: Any) -> msl.MetaSyncCacheLoader:
        return msl.MetaSyncCacheLoader(source, clock=ManualClock(generated_at() + timedelta(minutes=5)))

    def test_the_parts_are_found_from_the_manifests_path_alone(self) -> None:
        self.assertTrue(part_ref(self.manifest, WEB_PART)["object"].startswith(f"parts/{self.NAMED}/"))
        loader = self.loader(msl.source_from_env({"METASYNC_CACHE_PATH": self.path}))
        self.assertEqual(loader.get_table(SESSIONS)["description"], "sessions")
        self.assertEqual(loader.get_document(), self.loader(msl.LocalSource(_whole_bucket)).get_document())
        self.assertIsNone(loader.get_cache_metadata()["last_part_error"])

    def test_with_cache_object_the_bucket_root_is_the_path_without_it(self) -> None:
        source = msl.source_from_env({"METASYNC_CACHE_PATH": self.path, "CACHE_OBJECT": self.NAMED})
        self.assertEqual((source.directory, source.object_name), (os.path.abspath(self.bucket), self.NAMED))
        loader = self.loader(source)
        self.assertEqual(loader.get_table(ORDERS)["table_id"], ORDERS)
        # The manifest's generation is the one the sync recorded, in the bucket root's sidecar.
        with open(os.path.join(self.bucket, msl.GENERATIONS_DIR, self.NAMED), "r", encoding="utf-8") as f:
            self.assertEqual(loader.get_cache_metadata()["generation"], f.read().strip())
        # A CACHE_OBJECT the path does not end with is not used to guess.
        other = msl.source_from_env({"METASYNC_CACHE_PATH": self.path, "CACHE_OBJECT": "other/metadata_cache.json"})
        self.assertEqual(other.file, os.path.abspath(self.path))

    def test_a_manifest_copied_away_from_its_bucket_says_what_to_set(self) -> None:
        elsewhere = tempfile.mkdtemp(prefix="copied-", dir=_workspace)
        shutil.copy(self.path, os.path.join(elsewhere, "metadata_cache.json"))
        loader = self.loader(msl.source_from_env({"METASYNC_CACHE_PATH": os.path.join(elsewhere, "metadata_cache.json")}))
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            with self.assertRaises(msl.PartUnavailable) as raised:
                loader.get_table(SESSIONS)
        message = str(raised.exception)
        self.assertIn("does not exist", message)
        self.assertIn(f"this manifest's are those of CACHE_OBJECT={self.NAMED}", message)
        self.assertIn(f"set LOCAL_BUCKET_DIR to the bucket's directory and CACHE_OBJECT={self.NAMED}", message)
        self.assertIn(f"METASYNC_CACHE_PATH to <bucket directory>/{self.NAMED}", message)


class SplitValidationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        split_fixtures()

    def problems(self, document: Any) -> List[str]:
        with self.assertRaises(msl.CacheDocumentError) as raised:
            msl.validate_document(document, "doc")
        return raised.exception.problems

    def test_a_manifest_is_valid_and_its_consistency_checked(self) -> None:
        manifest = manifest_of(_split_bucket)
        self.assertEqual(msl.validate_document(manifest), 3)
        wrong = json.loads(json.dumps(manifest))
        wrong["parts"][1]["tables"] = 2
        self.assertEqual(self.problems(wrong), [f"parts[1] ({WEB_PART}): says 2 tables; the catalog puts 1 there"])
        wrong = json.loads(json.dumps(manifest))
        wrong["catalog"][1]["table_id"] = SAMPLE_TABLE
        self.assertEqual(self.problems(wrong), [f"catalog: table {SAMPLE_TABLE} appears twice"])
        wrong = json.loads(json.dumps(manifest))
        del wrong["parts"][0]["generation"]
        self.assertEqual(self.problems(wrong), ["parts[0]: missing required field 'generation'"])
        wrong = json.loads(json.dumps(manifest))
        wrong["layout"] = "document"
        self.assertTrue(any(p.startswith("layout: expected one of") for p in self.problems(wrong)))

    def test_a_table_not_cached_names_at_most_20_of_the_tables(self) -> None:
        ids = [f"p.d.t{i}" for i in range(25)]
        message = str(msl.TableNotCached("p.d.x", "gs://b/o", ids))
        self.assertEqual(message, f"p.d.x is not in the MetaSync cache at gs://b/o; it describes {', '.join(ids[:20])} and 5 more")

    def test_a_part_is_not_a_document(self) -> None:
        manifest = manifest_of(_split_bucket)
        with open(os.path.join(_split_bucket, manifest["parts"][0]["object"]), "rb") as f:
            data = f.read()
        with self.assertRaises(msl.CacheDocumentError) as raised:
            msl.load_document(data, "doc")
        self.assertEqual(raised.exception.problems, [f"(document): a part ({PRIMARY_PART}) of a split document, not a document or a manifest"])
        part = msl.load_part(data, manifest["parts"][0], "part")
        self.assertEqual(len(part["tables"]), 2)


class CloudStorageTest(unittest.TestCase):
    gcs: FakeGcs

    @classmethod
    def setUpClass(cls) -> None:
        cls.gcs = FakeGcs()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.gcs.close()

    def source(self, name: str, **options: Any) -> msl.GcsSource:
        return msl.GcsSource("cache", name, endpoint=self.gcs.url, **options)

    def put_split(self, prefix: str) -> Dict[str, Any]:
        """The split fixture uploaded under `prefix/`: each part at its name there, then the manifest
        with the generations the fake server gave them. Returns the manifest as uploaded."""
        split_fixtures()
        manifest = manifest_of(_split_bucket)
        for ref in manifest["parts"]:
            with open(os.path.join(_split_bucket, ref["object"]), "r", encoding="utf-8") as f:
                ref["object"] = f"{prefix}/{ref['object']}"
                ref["generation"] = self.gcs.put("cache", ref["object"], f.read())
        self.gcs.put("cache", f"{prefix}/{OBJECT}", json.dumps(manifest))
        return manifest

    def downloads_of(self, name: str) -> List[Dict[str, Any]]:
        quoted = urllib.parse.quote(name, safe="")
        return [r for r in self.gcs.requests("download") if r["path"].split("?")[0].endswith("/o/" + quoted)]

    def test_fetches_parts_of_a_split_document_on_demand(self) -> None:
        manifest = self.put_split("s1")
        loader = msl.MetaSyncCacheLoader(self.source(f"s1/{OBJECT}"), clock=ManualClock(generated_at()))
        self.assertEqual(loader.get_schema_info()["table_id"], SAMPLE_TABLE)
        web = part_ref(manifest, WEB_PART)
        self.assertEqual(self.downloads_of(web["object"]), [])
        self.assertEqual(loader.get_table(SESSIONS)["description"], "sessions")
        self.assertEqual(loader.get_table(SESSIONS)["description"], "sessions")
        self.assertEqual(len(self.downloads_of(web["object"])), 1)
        self.assertEqual(len(loader.list_tables()), 4)
        self.assertEqual(len(loader.get_few_shot_examples()), 16)
        metadata = loader.get_cache_metadata()
        self.assertEqual((metadata["layout"], metadata["parts_cached"]), ("split", [PRIMARY_PART, WEB_PART, SHOP_PART]))
        for ref in manifest["parts"]:
            self.assertEqual(len(self.downloads_of(ref["object"])), 1, ref["key"])

    def test_threads_that_want_the_same_part_share_one_download(self) -> None:
        manifest = self.put_split("s3")
        loader = msl.MetaSyncCacheLoader(self.source(f"s3/{OBJECT}"), clock=ManualClock(generated_at()))
        self.assertTrue(loader.is_cache_available())
        results: List[str] = []
        threads = [threading.Thread(target=lambda: results.append(loader.get_table(SESSIONS)["table_id"])) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        self.assertEqual(results, [SESSIONS] * 8)
        self.assertEqual(len(self.downloads_of(part_ref(manifest, WEB_PART)["object"])), 1)

    def test_refuses_a_replaced_or_missing_part_and_keeps_the_manifest(self) -> None:
        manifest = self.put_split("s2")
        web, shop = part_ref(manifest, WEB_PART), part_ref(manifest, SHOP_PART)
        clock = ManualClock(generated_at())
        loader = msl.MetaSyncCacheLoader(self.source(f"s2/{OBJECT}"), clock=clock)
        self.assertTrue(loader.is_cache_available())

        self.gcs.command(op="fault", status=503, kind="download")
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            with self.assertRaises(msl.PartUnavailable) as raised:
                loader.get_table(USERS)
        self.assertEqual((raised.exception.key, raised.exception.reason_tag), (PRIMARY_PART, "StorageError"))
        self.assertIn("HTTP 503", str(raised.exception))
        clock.advance(timedelta(minutes=1))
        self.assertEqual(loader.get_table(USERS)["table_id"], USERS)

        with open(os.path.join(_split_bucket, web["object"][len("s2/"):]), "r", encoding="utf-8") as f:
            replaced = self.gcs.put("cache", web["object"], f.read())
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            with self.assertRaises(msl.PartUnavailable) as raised:
                loader.get_few_shot_examples(SAMPLE_TABLE)
        self.assertEqual((raised.exception.key, raised.exception.reason_tag), (WEB_PART, "GenerationMismatch"))
        self.assertIn(f"gs://cache/{web['object']} is at generation {replaced}; the manifest references generation {web['generation']}", str(raised.exception))

        self.gcs.command(op="remove", bucket="cache", name=shop["object"])
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            with self.assertRaises(msl.PartUnavailable) as raised:
                loader.get_table(ORDERS_SHARD)
        self.assertEqual((raised.exception.key, raised.exception.reason_tag), (SHOP_PART, "ResourceNotFound"))

        metadata = loader.get_cache_metadata()
        self.assertTrue(metadata["available"])
        self.assertIsNone(metadata["last_error"])

    def test_reads_the_document_over_the_json_api(self) -> None:
        generation = self.gcs.put("cache", "a/metadata_cache.json", _published)
        loader = msl.MetaSyncCacheLoader(self.source("a/metadata_cache.json"), clock=ManualClock(generated_at()))
        self.assertEqual(loader.get_schema_info()["table_id"], SAMPLE_TABLE)
        metadata = loader.get_cache_metadata()
        self.assertEqual(metadata["location"], "gs://cache/a/metadata_cache.json")
        self.assertEqual(metadata["generation"], generation)
        downloads = [r for r in self.gcs.requests("download") if "a%2Fmetadata_cache.json" in r["path"]]
        self.assertEqual(len(downloads), 1)
        self.assertIsNone(downloads[0]["authorization"])

    def test_honours_storage_emulator_host(self) -> None:
        self.gcs.put("cache", "env.json", _published)
        saved = os.environ.get("STORAGE_EMULATOR_HOST")
        os.environ["STORAGE_EMULATOR_HOST"] = self.gcs.url.replace("http://", "")
        try:
            source = msl.GcsSource("cache", "env.json")
            self.assertEqual(source.endpoint, self.gcs.url)
            self.assertTrue(msl.MetaSyncCacheLoader(source, clock=ManualClock(generated_at())).is_cache_available())
        finally:
            if saved is None:
                os.environ.pop("STORAGE_EMULATOR_HOST", None)
            else:
                os.environ["STORAGE_EMULATOR_HOST"] = saved

    def test_downloads_only_when_the_generation_changes(self) -> None:
        name = "b/metadata_cache.json"
        first = self.gcs.put("cache", name, _published)
        clock = ManualClock(generated_at())
        loader = msl.MetaSyncCacheLoader(self.source(name, token_provider=lambda: "test-token"), clock=clock)
        self.assertEqual(loader.get_cache_metadata()["generation"], first)

        def downloads() -> List[Dict[str, Any]]:
            return [r for r in self.gcs.requests("download") if "b%2Fmetadata_cache.json" in r["path"]]

        clock.advance(timedelta(hours=1))
        self.assertEqual(loader.get_cache_metadata()["generation"], first)
        self.assertEqual(len(downloads()), 1)
        self.assertEqual(downloads()[0]["authorization"], "Bearer test-token")

        changed = json.loads(_published)
        changed["examples"] = changed["examples"][:3]
        second = self.gcs.put("cache", name, json.dumps(changed))
        clock.advance(timedelta(minutes=30))
        self.assertEqual(len(loader.get_few_shot_examples()), 14)
        clock.advance(timedelta(minutes=30))
        self.assertEqual(len(loader.get_few_shot_examples()), 3)
        self.assertEqual(loader.get_cache_metadata()["generation"], second)
        self.assertEqual(len(downloads()), 2)

    def test_keeps_the_last_good_copy_through_storage_failures(self) -> None:
        name = "c/metadata_cache.json"
        good = self.gcs.put("cache", name, _published)
        clock = ManualClock(generated_at())
        loader = msl.MetaSyncCacheLoader(self.source(name), clock=clock)
        self.assertTrue(loader.is_cache_available())

        self.gcs.command(op="fault", status=503, kind="metadata")
        clock.advance(timedelta(hours=1))
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            failed = loader.get_cache_metadata()
        self.assertEqual(failed["generation"], good)
        self.assertEqual(failed["last_error"]["tag"], "StorageError")
        self.assertIn("HTTP 503", failed["last_error"]["message"])

        self.gcs.command(op="remove", bucket="cache", name=name)
        clock.advance(timedelta(minutes=1))
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            self.assertEqual(loader.get_cache_metadata()["last_error"]["tag"], "ResourceNotFound")
        self.assertEqual(len(loader.get_few_shot_examples()), 14)

        self.gcs.put("cache", name, "corrupt")
        clock.advance(timedelta(minutes=1))
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            self.assertEqual(loader.get_cache_metadata()["last_error"]["tag"], "CacheDocumentError")

        newest = self.gcs.put("cache", name, _published)
        clock.advance(timedelta(minutes=1))
        recovered = loader.get_cache_metadata()
        self.assertEqual((recovered["generation"], recovered["last_error"]), (newest, None))

    def test_threads_that_find_the_copy_due_share_one_download(self) -> None:
        name = "e/metadata_cache.json"
        self.gcs.put("cache", name, _published)
        loader = msl.MetaSyncCacheLoader(self.source(name), clock=ManualClock(generated_at()))
        results: List[str] = []
        threads = [threading.Thread(target=lambda: results.append(loader.get_schema_info()["table_id"])) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        self.assertEqual(results, [SAMPLE_TABLE] * 8)
        downloads = [r for r in self.gcs.requests("download") if "e%2Fmetadata_cache.json" in r["path"]]
        self.assertEqual(len(downloads), 1)

    def test_a_refused_generation_is_not_downloaded_again(self) -> None:
        name = "d/metadata_cache.json"
        self.gcs.put("cache", name, "not json")
        clock = ManualClock(generated_at())
        loader = msl.MetaSyncCacheLoader(self.source(name), clock=clock)
        with self.assertLogs("metasync_cache_loader", level="WARNING"):
            self.assertFalse(loader.is_cache_available())
        clock.advance(timedelta(minutes=5))
        self.assertFalse(loader.is_cache_available())
        downloads = [r for r in self.gcs.requests("download") if "d%2Fmetadata_cache.json" in r["path"]]
        self.assertEqual(len(downloads), 1)


class McpServer:
    """`metasync mcp --http --port 0` over a bucket directory, as a child process on 127.0.0.1."""

    def __init__(self, source: str) -> None:
        self.process = subprocess.Popen(
            [node_binary(), os.path.join("src", "entry", "cli.ts"), "mcp", "--http", "--port", "0", "--source", source],
            cwd=PROJECT_ROOT,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: "queue.Queue[str]" = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.process.stderr or []], daemon=True).start()
        deadline = time.monotonic() + 60
        seen = ""
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.close()
                raise RuntimeError(f"metasync mcp did not start listening:\n{seen}") from None
            seen += line
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+/mcp)", line)
            if match:
                self.url = match.group(1)
                return

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class PromptContextTest(unittest.TestCase):
    server: McpServer

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = McpServer(_bucket)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.close()

    def test_asks_the_mcp_server_for_the_prompt_context(self) -> None:
        loader = msl.MetaSyncCacheLoader(msl.LocalSource(_bucket), mcp_url=self.server.url, clock=ManualClock(generated_at()))
        context = loader.get_prompt_context("국가별 사용자 수", max_tokens=800, language="ko")
        self.assertEqual(context["tables"], [SAMPLE_TABLE])
        self.assertLessEqual(context["tokens"], 800)
        self.assertIn(f"## Table `{SAMPLE_TABLE}`", context["text"])
        self.assertGreater(context["example_count"], 0)

    def test_reports_what_the_server_refuses(self) -> None:
        loader = msl.MetaSyncCacheLoader(msl.LocalSource(_bucket), mcp_url=self.server.url)
        with self.assertRaises(msl.MetaSyncCacheError) as raised:
            loader.get_prompt_context("", max_tokens=5)
        self.assertIn("Invalid arguments for tool get_prompt_context", str(raised.exception))
        unreachable = msl.MetaSyncCacheLoader(msl.LocalSource(_bucket), mcp_url="http://127.0.0.1:9/mcp")
        with self.assertRaises(msl.StorageError):
            unreachable.get_prompt_context("users")


if __name__ == "__main__":
    unittest.main()
