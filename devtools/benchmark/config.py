"""Presets, the resolved options of one run, and the targets each figure is held to."""

from dataclasses import asdict, dataclass, fields

PRESETS = {
    # CI: well under a minute, every phase exercised on small numbers.
    "small": {
        "orders": 600,
        "latency": 0.5,
        "jitter": 0.25,
        "concurrency": 50,
        "complete_after": 2.0,
        "poll_seconds": 2,
        "sequential_cap": 6,
    },
    # A peak day's upload in one shot.
    "full": {
        "orders": 20_000,
        "latency": 1.0,
        "jitter": 0.5,
        "concurrency": 100,
    },
    # Sending against the in-memory thread pool at concurrency 50, 100 and 200.
    **{
        f"send{n}": {
            "orders": 4000,
            "latency": 1.0,
            "jitter": 0.5,
            "concurrency": n,
            "sequential_cap": 5,
            "skip_pages": True,
        }
        for n in (50, 100, 200)
    },  # fmt: skip
    # The urgent lane and fair share under a saturating batch (devtools/benchmark/urgent.py).
    "urgent": {
        "orders": 2000,
        "latency": 1.0,
        "jitter": 0.2,
        "concurrency": 20,
        "complete_after": 2.0,
        "poll_seconds": 2,
        "skip_pages": True,
        "skip_baselines": True,
    },
    # The big admin actions: confirm a 20,000-row import, cancel its batch (actions.py).
    "actions": {"orders": 20_000, "skip_pages": True, "skip_baselines": True},
    # A year of data on PostgreSQL (devtools/benchmark/year.py): seeded, then every page timed.
    "year": {"page_requests": 5},
}


@dataclass
class Config:
    preset: str = ""
    orders: int = 2000
    latency: float = 1.0
    jitter: float = 0.5
    concurrency: int = 50
    complete_after: float = 10.0  # seconds until the fake reports Completed
    poll_seconds: int = 5  # STATUS_POLL_SECONDS of the cluster
    sequential_cap: int = 30  # the one-at-a-time baseline sends at most this many
    page_orders: int = 100_000  # orders in the database while the pages are timed
    page_requests: int = 7
    database: str = ""
    redis: str = ""
    json: str = ""
    workdir: str = ""
    skip_baselines: bool = False
    skip_pages: bool = False
    small_orders: int = 150  # --preset urgent: the batch imported under the saturating one
    urgent_checks: int = 10  # --preset urgent: check-nows submitted, one every 2 s
    urgent_imeis: int = 5  # --preset urgent: IMEIs per check-now

    @classmethod
    def from_options(cls, options):
        values = dict(PRESETS.get(options.get("preset") or "", {}))
        values["preset"] = options.get("preset") or ""
        names = {f.name for f in fields(cls)}
        # A flag left off (False) keeps the preset's value; a number 0 is a value (0 == False).
        values.update({k: v for k, v in options.items() if k in names and not left_off(v)})
        return cls(**values)

    def to_json(self):
        return asdict(self)


# (key in the results, comparison, target, unit): the figure passes when `op` holds.
TARGETS = {
    "engine.efficiency": (">=", 0.9, ""),
    "import.seconds_upload_to_confirmed": ("<=", 10.0, "s"),
    "pages.batch_page_ms": ("<=", 300.0, "ms"),
    "pages.batch_json_ms": ("<=", 50.0, "ms"),
    "pages.changelist_ms": ("<=", 300.0, "ms"),
    "cost.peak_rss_mib": ("<=", 1024.0, "MiB"),
}


def left_off(value):
    return value is None or value is False or value == ""


def meets(value, op, target):
    if value is None:
        return None
    return value >= target if op == ">=" else value <= target
