"""A fake GSM Fusion provider, faithful to docs/provider-protocol.md, for tests and load runs.

It speaks the real wire format (the malformed `<?phpxml` declaration, HTTP 200 XML errors), keeps
the real quirks (a comma list orders only its LAST IMEI; Luhn-invalid IMEIs are accepted, then
Rejected) and injects faults on demand: 503 before creating, a created order whose answer never
comes, a created order whose answer is cut short (malformed XML; getimeis answers too), 429 over
a rate or an in-flight cap, and an API key changed while it runs (`change_api_key`). For
demos it also refuses a share of orders outright (`refuse_rate`: a provider error, nothing
created, so the order fails and can be re-submitted) and rejects a share of placed ones when
their result comes (`reject_rate`: Rejected, as the provider does with an unusable IMEI).
Account-wide faults for the unattended tests: `refuse_text` refuses every placeorder with that
`<error>` (after `refuse_after` orders were created; nothing is charged), and `id_gap` leaves up
to that many ids between two of our orders, as other customers' orders do. `gateway_rate` is a
gateway in front of the provider answering 502 Bad Gateway at once, forwarding nothing (so
nothing is created, though the client cannot know it: an unknown outcome). For the books
(docs/statement.md): `lose_answers` charges the next N orders and drops each connection
without an answer (the portal never hears of them: a charge without a record), and
`junk_service` completes that service's orders with garbage results (empty, "Unknown",
unparseable), paid for all the same. `refuse_imeis` refuses those IMEIs only, with
`refuse_imei_text` (nothing created, as the provider refuses an IMEI invalid for a service).
None of these three draws from the seeded random stream, so runs with a seed are unchanged.
Every fault switch can be flipped while it runs: `POST /_faults` with a JSON object (see
FAULTS), or set the attribute. `GET /_stats` and `GET /_orders` let a test check what the
provider saw and charged (`POST /_reset_peak` restarts the in-flight peak). It binds
127.0.0.1 only and never echoes the API key. Its time (latency, order ages, the rate window)
comes from `clock` (submissions.driver.clock.SystemClock by default): tests pass one they advance.
"""

import json
import logging
import os
import random
import select
import socket
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from orders.imei import luhn_valid
from submissions.driver.clock import SystemClock

from .data import CATALOGUE, completed_code

log = logging.getLogger(__name__)

API_PATH = "/gsmfusion_api/index.php"
DECLARATION = '<?phpxml version="1.0" encoding="utf-8"?>'
FIRST_ORDER_ID = 15562209
DEMO_API_KEY = "DEMO-DEMO-DEMO-DEMO-DEMO"  # portal/settings.py's development default
HOLD_LIMIT = 600  # seconds a "timed out" call holds its socket at most
# What the fake answers for an order it refuses (`refuse_rate`); wording never captured.
REFUSED = "Service temporarily unavailable for this IMEI, try again later"
# The reason of an order it rejects (`reject_rate`), as the checker gives for a bad IMEI.
REJECTED_CODE = "Invalid_IMEI"
# What a per-IMEI refusal (`refuse_imeis`) answers; wording never captured.
REFUSED_IMEI = "Invalid IMEI for this service"


def imei_list(value):
    """`refuse_imeis` as a tuple: from a list or a comma-separated string."""
    items = value.split(",") if isinstance(value, str) else value
    return tuple(str(item).strip() for item in items if str(item).strip())


# What `POST /_faults` may switch at run time, and the type each takes (None switches off).
FAULTS = {
    "fail_rate": float, "timeout_rate": float, "garbage_rate": float, "rate_limit": int,
    "max_inflight": int, "refuse_text": str, "refuse_after": int, "id_gap": int,
    "latency": float, "jitter": float, "refuse_rate": float, "reject_rate": float,
    "gateway_rate": float, "lose_answers": int, "junk_service": int,
    "refuse_imeis": imei_list, "refuse_imei_text": str,
}  # fmt: skip
# The results `junk_service` completes its orders with, in turn by order id.
JUNK_CODES = ("", "Unknown", "Model: Unknown<br>Carrier: Unknown<br>SimLock: Unknown", "?? ??")


@dataclass
class FakeOrder:
    id: int
    imei: str
    service_id: int
    created: float  # clock.monotonic()
    requested_at: str
    rejected: bool = False  # Rejected once its result is due (`reject_rate`)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # sleeping or held handlers never block shutdown
    request_queue_size = 1024  # hundreds of clients connect at once during a load run
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that went away (a killed cluster, a reset connection) is not the fake's error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeFusion:
    """The fake provider. `start()` serves in a background thread; `stop()` ends it."""

    def __init__(
        self,
        host="127.0.0.1",
        port=0,
        latency=15.0,
        jitter=3.0,
        complete_after=60.0,
        status_latency=None,
        fail_rate=0.0,
        gateway_rate=0.0,
        timeout_rate=0.0,
        garbage_rate=0.0,
        refuse_rate=0.0,
        reject_rate=0.0,
        rate_limit=None,
        max_inflight=None,
        seed=None,
        username=None,
        api_key=None,
        clock=None,
        refuse_text=None,
        refuse_after=0,
        id_gap=0,
        refuse_imeis=(),
        refuse_imei_text=REFUSED_IMEI,
        lose_answers=0,
        junk_service=None,
    ):
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("The fake provider binds 127.0.0.1 only")
        self.latency, self.jitter, self.complete_after = latency, jitter, complete_after
        self.status_latency = min(latency / 10, 1.0) if status_latency is None else status_latency
        self.fail_rate, self.timeout_rate = fail_rate, timeout_rate
        self.gateway_rate = gateway_rate
        self.garbage_rate = garbage_rate
        self.refuse_rate, self.reject_rate = refuse_rate, reject_rate
        self.rate_limit, self.max_inflight = rate_limit, max_inflight
        self.refuse_text, self.refuse_after, self.id_gap = refuse_text, refuse_after, id_gap
        self.refuse_imeis, self.refuse_imei_text = imei_list(refuse_imeis), refuse_imei_text
        self.lose_answers, self.junk_service = lose_answers, junk_service
        self.username = username or os.environ.get("GSM_FUSION_USERNAME") or "demo"
        self._api_key = api_key or os.environ.get("GSM_FUSION_API_KEY") or DEMO_API_KEY
        self.clock = clock or SystemClock()
        self.services = {row[0]: row for row in CATALOGUE}
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.reset()
        self.server = _Server(("127.0.0.1", port), _Handler)
        self.server.fake = self
        self._thread = None

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        # A short poll interval makes stop() quick: tests start and stop many fakes.
        serve = self.server.serve_forever
        self._thread = threading.Thread(target=serve, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        self.server.serve_forever()

    def stop(self):
        self.stopping.set()  # wakes sleeping and held handlers
        if self._thread is not None:
            self.server.shutdown()  # only valid while serve_forever runs in another thread
            self._thread = None
        self.server.server_close()

    def change_api_key(self, api_key):
        """The account's key is changed at the provider: calls with the old one are refused."""
        with self._lock:
            self._api_key = api_key

    def set_faults(self, faults):
        """Switch faults at run time from a {name: value} mapping; returns what was set."""
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"Unknown fault switches: {', '.join(sorted(unknown))}")
        changed = {
            name: None if value is None else FAULTS[name](value) for name, value in faults.items()
        }
        with self._lock:
            for name, value in changed.items():
                setattr(self, name, value)
        return changed

    def reset(self):
        with self._lock:
            self._orders, self._placed_keys = {}, set()
            self._next_id = FIRST_ORDER_ID
            self._calls, self._reached, self._sent = Counter(), Counter(), Counter()
            self._recent, self._inflight, self._peak = deque(), 0, 0
            self._counts = Counter()
            self._charged = Decimal("0")

    def reset_peak(self):
        """Start measuring the peak of placeorders in flight again (after a limit change)."""
        with self._lock:
            self._peak = self._inflight

    # -- what a test can check -----------------------------------------------------------------

    def stats(self):
        """Counters of what the provider saw. `imeis_placed_more_than_once` counts IMEIs that
        reached the order logic more than once (past the 502/429/503 front door), whatever the
        answer; `imeis_sent_more_than_once` counts every placeorder HTTP call."""
        with self._lock:
            return {
                "calls": dict(self._calls),
                "peak_inflight_placeorders": self._peak,
                "inflight_placeorders": self._inflight,
                "orders_created": len(self._orders),
                "charged": str(self._charged),
                "imeis_placed_more_than_once": sum(1 for n in self._reached.values() if n > 1),
                "imeis_sent_more_than_once": sum(1 for n in self._sent.values() if n > 1),
                "rejected_429": self._counts["rejected_429"],
                "failed_503": self._counts["failed_503"],
                "failed_502": self._counts["failed_502"],
                "timed_out": self._counts["timed_out"],
                "garbled": self._counts["garbled"],
                "refused": self._counts["refused"],
                "refused_imeis": self._counts["refused_imeis"],
                "lost_answers": self._counts["lost_answers"],
            }

    def orders(self):
        now = self.clock.monotonic()
        with self._lock:
            orders = list(self._orders.values())
        return [
            {
                "id": o.id,
                "imei": o.imei,
                "service_id": o.service_id,
                "status": self._status(o, now)[0],
            }
            for o in orders
        ]

    # -- the protocol ---------------------------------------------------------------------------

    def answer(self, params):
        """(HTTP status, body or None to hold the socket) for one API call's parameters."""
        action = _param(params, "action")
        with self._lock:
            self._calls[action or "(none)"] += 1
        if action == "placeorder":
            return self._placeorder(params)
        self._sleep(self.status_latency)
        error = self._auth_error(params)
        if error:
            return 200, error
        if action == "imeiservices":
            return 200, self._catalogue()
        if action == "getimeis":
            return 200, self._garble(self._getimeis(_param(params, "orderIds")))
        return 200, _error("Invalid Action!")  # wording never captured

    def _auth_error(self, params):
        user, key, action = (_param(params, n) for n in ("userId", "apiKey", "action"))
        if not (user and key and action) or user != self.username:
            return _error("Invalid User!")
        if key != self._api_key:
            return _error("Invalid API Key!")
        return None

    def _placeorder(self, params):
        """Front door (gateway 502, 429, latency, 503), then the provider's checks, the order."""
        imeis = [i.strip() for i in _param(params, "imei").split(",") if i.strip()]
        with self._lock:
            self._sent.update(imeis)
            bad_gateway = bool(self.gateway_rate) and self._random.random() < self.gateway_rate
            throttled = not bad_gateway and self._enter_or_throttle()
            if bad_gateway:
                self._counts["failed_502"] += 1
        if bad_gateway:  # the gateway answers at once and forwards nothing
            return 502, "<html><body><h1>502 Bad Gateway</h1></body></html>"
        if throttled:
            return 429, _error("Too Many Requests")
        try:
            self._sleep(
                self._random.uniform(self.latency - self.jitter, self.latency + self.jitter)
            )
            if self._random.random() < self.fail_rate:
                self._count("failed_503")
                return 503, "<html><body><h1>503 Service Unavailable</h1></body></html>"
            with self._lock:
                self._reached.update(imeis)
            error = self._auth_error(params) or self._refusal() or self._imei_refusal(imeis)
            if error:
                return 200, error
            return self._create(imeis[-1] if imeis else "", _param(params, "networkId"))
        finally:
            with self._lock:
                self._inflight -= 1

    def _refusal(self):
        """The account-wide refusal, once `refuse_after` orders exist: nothing is created."""
        with self._lock:
            refused = self.refuse_text and len(self._orders) >= (self.refuse_after or 0)
            if refused:
                self._counts["refused"] += 1
        return _error(self.refuse_text) if refused else None

    def _imei_refusal(self, imeis):
        """A per-IMEI refusal (`refuse_imeis`): that IMEI only, nothing created or charged."""
        with self._lock:
            refused = bool(imeis) and imeis[-1] in (self.refuse_imeis or ())
            if refused:
                self._counts["refused_imeis"] += 1
        return _error(self.refuse_imei_text or REFUSED_IMEI) if refused else None

    def _enter_or_throttle(self):
        """Under the lock: count one more placeorder in flight, or say it is throttled."""
        now = self.clock.monotonic()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        over_rate = self.rate_limit is not None and len(self._recent) >= self.rate_limit
        over_cap = self.max_inflight is not None and self._inflight >= self.max_inflight
        if over_rate or over_cap:
            self._counts["rejected_429"] += 1
            return True
        self._recent.append(now)
        self._inflight += 1
        self._peak = max(self._peak, self._inflight)
        return False

    def _create(self, imei, network_id):
        # Only the LAST IMEI of a comma list is ordered: the real provider's silent bug.
        if len(imei) != 15 or not imei.isdigit():
            return 200, _error("Invalid IMEI!")  # wording never captured
        if not network_id.isdigit() or int(network_id) not in self.services:
            return 200, _error("Service Not Available!")  # wording never captured
        service_id = int(network_id)
        if self._random.random() < self.refuse_rate:
            self._count("refused")
            return 200, _error(REFUSED)
        with self._lock:
            if (self.username, service_id, imei) in self._placed_keys:
                return 200, _error("IMEI already exists!")
            order = self._add_order(imei, service_id)
            order.rejected = self._random.random() < self.reject_rate
            lost = self._lose_answer()
        if lost:  # created and charged; the connection drops without a word
            return None, None
        if self._random.random() < self.timeout_rate:
            self._count("timed_out")
            return 200, None
        return 200, self._garble(
            _wrap("result", _wrap("imeis", _fields(id=order.id, imei=imei, status="Pending")))
        )

    def _lose_answer(self):
        """Under the lock: is this created order's answer one of the `lose_answers` next?"""
        if not self.lose_answers:
            return False
        self.lose_answers -= 1
        self._counts["lost_answers"] += 1
        return True

    def _garble(self, answer):
        """With `garbage_rate`, the answer cut off halfway: not XML (after the work was done)."""
        if self._random.random() >= self.garbage_rate:
            return answer
        self._count("garbled")
        return answer[: len(answer) // 2]

    def _add_order(self, imei, service_id):
        now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        order = FakeOrder(self._next_id, imei, service_id, self.clock.monotonic(), now)
        # Other customers' orders take the ids in between (getimeis answers nothing for them).
        self._next_id += 1 + (self._random.randint(0, self.id_gap) if self.id_gap else 0)
        self._orders[order.id] = order
        self._placed_keys.add((self.username, service_id, imei))
        self._charged += Decimal(self.services[service_id][3])
        return order

    def _status(self, order, now):
        """(status, code) computed lazily from the order's age."""
        age = now - order.created
        if age < self.complete_after:
            return ("Pending" if age < self.complete_after / 2 else "In Process"), ""
        if order.rejected or not luhn_valid(order.imei):
            return "Rejected", REJECTED_CODE
        if self.junk_service is not None and order.service_id == self.junk_service:
            return "Completed", JUNK_CODES[order.id % len(JUNK_CODES)]
        return "Completed", completed_code(order.imei)

    def _getimeis(self, order_ids):
        now = self.clock.monotonic()
        ids = [int(i) for i in order_ids.split(",") if i.strip().isdigit()]
        with self._lock:
            found = [self._orders[i] for i in ids if i in self._orders]
        return _wrap("result", "".join(self._order_xml(o, now) for o in found))

    def _order_xml(self, order, now):
        status, code = self._status(order, now)
        return _wrap("imeis", _fields(
            id=order.id, imei=order.imei, package=self.services[order.service_id][1],
            status=status, code=code, requestedat=order.requested_at,
        ))  # fmt: skip

    def _catalogue(self):
        tags = ("PackageId", "PackageTitle", "Category", "PackagePrice", "TimeTaken", "MustRead")
        packages = (
            _wrap("Package", _fields(**dict(zip(tags, row, strict=True)))) for row in CATALOGUE
        )
        return _wrap("Packages", "".join(packages))

    # -- helpers ------------------------------------------------------------------------------

    def _sleep(self, seconds):
        if seconds > 0:
            self.clock.wait_for(seconds, self.stopping)

    def _count(self, name):
        with self._lock:
            self._counts[name] += 1


def _param(params, name):
    return (params.get(name) or [""])[0].strip()


def _fields(**values):
    return "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in values.items())


def _wrap(tag, inner):
    return f"<{tag}>{inner}</{tag}>"


def _error(message):
    return f"<error>{escape(message)}</error>"


class _Handler(BaseHTTPRequestHandler):
    server_version = "Apache"
    sys_version = ""

    def do_POST(self):
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        if self.path == "/_reset":
            fake.reset()
            return self._send(200, "{}", "application/json")
        if self.path == "/_reset_peak":
            fake.reset_peak()
            return self._send(200, "{}", "application/json")
        if self.path == "/_faults":
            try:
                changed = fake.set_faults(json.loads(body or "{}"))
            except (ValueError, TypeError, AttributeError) as exc:
                return self._send(400, json.dumps({"error": str(exc)}), "application/json")
            return self._send(200, json.dumps(changed), "application/json")
        if self.path.split("?")[0] != API_PATH:
            return self._send(404, "Not Found", "text/plain")
        status, answer = fake.answer(parse_qs(body, keep_blank_values=True))
        if status is None:  # the answer is lost: close the connection, say nothing
            self.close_connection = True
            return None
        if answer is None:
            return self._hold()
        content_type = "application/xml" if status == 200 else "text/html"
        self._send(status, DECLARATION + answer if status == 200 else answer, content_type)

    def do_GET(self):
        fake = self.server.fake
        if self.path == "/_stats":
            return self._send(200, json.dumps(fake.stats()), "application/json")
        if self.path == "/_orders":
            return self._send(200, json.dumps(fake.orders()), "application/json")
        # What the http->https redirect turns every call into: a GET without parameters.
        self._send(200, DECLARATION + _error("Invalid User!"), "application/xml")

    def _send(self, status, text, content_type):
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _hold(self):
        """Never answer: keep the socket until the client gives up or the fake stops."""
        deadline = time.monotonic() + HOLD_LIMIT
        while time.monotonic() < deadline and not self.server.fake.stopping.is_set():
            try:
                readable, _, _ = select.select([self.connection], [], [], 0.05)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    break  # the client closed its end
            except OSError:
                break
        self.close_connection = True

    def log_message(self, format, *args):
        log.debug("fakefusion %s %s", self.address_string(), format % args)
