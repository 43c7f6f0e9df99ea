"""What the fake provider sells and answers: its catalogue and the iPhone checker's results.

The figures follow docs/provider-protocol.md (service 1739 at $0.08, the twelve labels of its
result code, values with hyphens such as "T-Mobile").
"""

import hashlib

from orders.imei import with_check_digit

LABELS = (
    "Model", "IMEI Number", "Serial Number", "IMEI2 Number", "MEID Number", "AppleCare Eligible",
    "Estimated Purchase Date", "Carrier", "Next Tether Policy", "Current GSMA Status",
    "Find My iPhone", "SimLock",
)  # fmt: skip
MODELS = (
    "iPhone 11 Purple 64GB", "iPhone 12 Pro Pacific Blue 128GB", "iPhone 13 Midnight 128GB",
    "iPhone XR Black 64GB", "iPhone 14 Pro Max Deep Purple 256GB",
)  # fmt: skip
CARRIERS = ("T-Mobile", "AT&T", "Verizon", "Unlocked", "Sprint/T-Mobile")
MUST_READ = (
    "<p><b>Instant</b> results for most devices.</p><p>Do <u>not</u> order the same IMEI "
    "twice: duplicates are refused (<i>IMEI already exists!</i>).</p>"
)
CATALOGUE = (
    (1739, "Apple iPhone IMEI Carrier + Simlock + FMI + WW + Activation Etc 🔥Hot Exclusive "
     "Checker🔥", "Apple iPhone Checkers", "0.08", "Instant-5 Minutes", MUST_READ),
    (1201, "Apple iPhone FMI ON/OFF Status", "Apple iPhone Checkers", "0.05", "Instant", ""),
    (1310, "GSMA Blacklist Status Check (Worldwide)", "Generic Checkers", "0.20",
     "Instant-10 Minutes", "<p>Clean / Blacklisted / Lost or Stolen.</p>"),
    (2055, "AT&T USA iPhone Clean Unlock (Premium)", "USA Unlocks", "24.99", "1-5 Days",
     "<p>Clean IMEIs only. <b>No refund</b> for blacklisted devices.</p>"),
    (2180, "T-Mobile USA iPhone Unlock (All Models, Premium)", "USA Unlocks", "110.00",
     "3-14 Days", "<p>Device must be fully paid off.</p>"),
)  # fmt: skip


def completed_code(imei):
    """The iPhone checker's result for an IMEI: twelve labels, deterministic per IMEI."""
    h = hashlib.sha256(imei.encode()).digest()
    carrier = CARRIERS[h[1] % len(CARRIERS)]
    serial = "".join("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"[b % 34] for b in h[10:22])
    imei2 = f"{int(imei[:14]) + 1 + h[2] % 50:014d}"[:14]
    imei2 = with_check_digit(imei2)
    values = (
        MODELS[h[0] % len(MODELS)], imei, serial, imei2, imei[:14], "ON" if h[3] % 2 else "OFF",
        f"{h[4] % 12 + 1:02d}/{h[5] % 28 + 1:02d}/{h[6] % 6 + 19}", carrier, str(h[7] % 30 + 1),
        "Blacklisted" if h[8] % 10 == 0 else "Clean", "ON" if h[9] % 2 else "OFF",
        "Unlocked" if carrier == "Unlocked" else ("Locked" if h[11] % 3 else "Unlocked"),
    )  # fmt: skip
    return "<br>".join(f"{label}: {value}" for label, value in zip(LABELS, values, strict=True))
