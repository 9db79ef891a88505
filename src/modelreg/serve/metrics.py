"""The inference server's counters, in Prometheus' text exposition format.

A handful of series, so they are kept here rather than through a client
library: requests by model, version, endpoint and status; a latency
histogram; the versions served; reloads by outcome; failed pointer polls.
"""

from __future__ import annotations

import threading
from collections import defaultdict

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds; the low end resolves a small model's CPU latency, the high end a large batch.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _labels(**labels: str) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


class _Histogram:
    __slots__ = ("count", "counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.count = 0
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1
                break


class Metrics:
    """Thread-safe counters; :meth:`render` writes them for a scrape."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str, str], int] = defaultdict(int)
        self._latency: dict[tuple[str, str], _Histogram] = defaultdict(_Histogram)
        self._served: dict[tuple[str, str], tuple[int, str]] = {}
        self._reloads: dict[tuple[str, str, str], int] = defaultdict(int)
        self._reload_seconds: dict[str, float] = {}
        self._poll_errors = 0

    def request(self, model: str, version: str, endpoint: str, code: int, seconds: float) -> None:
        with self._lock:
            self._requests[(model, version, endpoint, str(code))] += 1
            if 200 <= code < 300:
                self._latency[(model, endpoint)].observe(seconds)

    def served(self, model: str, role: str, version: int | None, stage: str = "") -> None:
        with self._lock:
            if version is None:
                self._served.pop((model, role), None)
            else:
                self._served[(model, role)] = (version, stage)

    def reload(self, model: str, version: int, ok: bool, seconds: float | None = None) -> None:
        with self._lock:
            self._reloads[(model, str(version), "ok" if ok else "refused")] += 1
            if seconds is not None:
                self._reload_seconds[model] = seconds

    def poll_failed(self) -> None:
        with self._lock:
            self._poll_errors += 1

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP modelreg_requests_total Inference and info requests by outcome.",
                "# TYPE modelreg_requests_total counter",
            ]
            for (model, version, endpoint, code), n in sorted(self._requests.items()):
                labels = _labels(model=model, version=version, endpoint=endpoint, code=code)
                lines.append(f"modelreg_requests_total{labels} {n}")
            lines += [
                "# HELP modelreg_request_duration_seconds Time to answer a successful request.",
                "# TYPE modelreg_request_duration_seconds histogram",
            ]
            for (model, endpoint), histogram in sorted(self._latency.items()):
                cumulative = 0
                for bound, n in zip(BUCKETS, histogram.counts, strict=True):
                    cumulative += n
                    labels = _labels(model=model, endpoint=endpoint, le=repr(bound))
                    lines.append(f"modelreg_request_duration_seconds_bucket{labels} {cumulative}")
                labels = _labels(model=model, endpoint=endpoint, le="+Inf")
                lines.append(f"modelreg_request_duration_seconds_bucket{labels} {histogram.count}")
                labels = _labels(model=model, endpoint=endpoint)
                lines.append(f"modelreg_request_duration_seconds_sum{labels} {histogram.total!r}")
                lines.append(f"modelreg_request_duration_seconds_count{labels} {histogram.count}")
            lines += [
                "# HELP modelreg_served_version The version each model serves (role: "
                "primary, or canary).",
                "# TYPE modelreg_served_version gauge",
            ]
            for (model, role), (number, stage) in sorted(self._served.items()):
                labels = _labels(model=model, role=role, stage=stage)
                lines.append(f"modelreg_served_version{labels} {number}")
            lines += [
                "# HELP modelreg_reloads_total Versions loaded after a pointer moved, by result.",
                "# TYPE modelreg_reloads_total counter",
            ]
            for (model, version, result), n in sorted(self._reloads.items()):
                labels = _labels(model=model, version=version, result=result)
                lines.append(f"modelreg_reloads_total{labels} {n}")
            lines += [
                "# HELP modelreg_reload_duration_seconds How long the last successful load took.",
                "# TYPE modelreg_reload_duration_seconds gauge",
            ]
            for model, seconds in sorted(self._reload_seconds.items()):
                lines.append(f"modelreg_reload_duration_seconds{_labels(model=model)} {seconds!r}")
            lines += [
                "# HELP modelreg_poll_errors_total Pointer polls that failed (fetch or read).",
                "# TYPE modelreg_poll_errors_total counter",
                f"modelreg_poll_errors_total {self._poll_errors}",
            ]
        return "\n".join(lines) + "\n"
