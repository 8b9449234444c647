"""Reads the tickets table's stream from moto and hands batches to the stream handler, as Lambda's poller does."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

logger = logging.getLogger("localdesk.streams")
BATCH_SIZE = 100
ATTEMPTS = 3  # like the deployed mapping's bounded retries: a record that keeps failing is logged and skipped


def lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A record as Lambda delivers it: the source ARN set, the creation time as epoch seconds."""
    shaped = dict(record)
    dynamodb = dict(shaped["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    shaped["dynamodb"] = dynamodb
    shaped["eventSourceARN"] = stream_arn
    shaped.setdefault("awsRegion", region)
    return shaped


class StreamReader:
    """Keeps its place in each shard; `read()` returns the records written since the last call."""

    def __init__(self, client: Any, stream_arn: str, region: str) -> None:
        self.client = client
        self.stream_arn = stream_arn
        self.region = region
        self._iterators: dict[str, str | None] = {}

    def read(self, limit: int = BATCH_SIZE) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        shards = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.client.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            iterator = self._iterators[shard_id]
            if iterator is None:
                continue
            answer = self.client.get_records(ShardIterator=iterator, Limit=limit)
            self._iterators[shard_id] = answer.get("NextShardIterator")
            records.extend(lambda_record(r, self.stream_arn, self.region) for r in answer["Records"])
        return records


def deliver(handler: Callable[[dict[str, Any]], Any], records: list[dict[str, Any]]) -> list[str]:
    """Hand a batch to the handler; redeliver from the first failed record, as Lambda does, a bounded number of
    times. The sequence numbers that still failed at the end (logged, then skipped)."""
    pending = records
    failed: list[str] = []
    for _ in range(ATTEMPTS):
        if not pending:
            return []
        answer = handler({"Records": pending}) or {}
        failed = [str(f.get("itemIdentifier")) for f in answer.get("batchItemFailures") or []]
        if not failed:
            return []
        numbers = [r["dynamodb"]["SequenceNumber"] for r in pending]
        pending = pending[min((numbers.index(n) for n in failed if n in numbers), default=0) :]
    logger.error("stream records failed %d times and were skipped: %s", ATTEMPTS, ", ".join(failed))
    return failed


class StreamPoller:
    """Polls the stream a few times a second in a thread, each batch taking its turn at the gate."""

    def __init__(
        self,
        reader: StreamReader,
        handler: Callable[[dict[str, Any]], Any],
        turn: Callable[[], Any],
        interval: float = 0.2,
    ) -> None:
        self.reader = reader
        self.handler = handler
        self.turn = turn
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="localdesk-stream", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self.turn():
                    records = self.reader.read()
                    if records:
                        deliver(self.handler, records)
            except Exception:
                if self._stop.is_set():
                    return
                logger.exception("reading the tickets stream failed; trying again")
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
