"""The provider's contract, checked strictly (docs/provider-protocol.md): the canary's eyes.

`parse_answer` is lenient on purpose (a proxy's plain `<?xml`, lists with or without a
container): orders must not be lost to a cosmetic change. The canary wants the opposite: any
change to the shapes the protocol page describes, reported before it costs money. Pure
functions over a body; each returns the list of problems found (empty: as documented).
"""

import re
import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation

DECLARATION = '<?phpxml version="1.0" encoding="utf-8"?>'
PACKAGE_FIELDS = ("PackageId", "Category", "PackageTitle", "PackagePrice", "TimeTaken", "MustRead")
ORDER_FIELDS = ("id", "imei", "package", "status", "code", "requestedat")
STATUSES = {"Pending", "In Process", "Completed", "Rejected"}
_OPEN_BR_RE = re.compile(r"<br\s*>", re.IGNORECASE)


def root_of(body, problems):
    """The root element after the declaration, or None (with the problem noted)."""
    if not body.startswith(DECLARATION):
        problems.append(f"the answer does not start with {DECLARATION!r}: {body[:60]!r}")
        return None
    rest = body[len(DECLARATION) :]
    if not rest.startswith("<"):
        problems.append(f"the root element does not follow the declaration: {rest[:40]!r}")
    try:
        return ET.fromstring(_OPEN_BR_RE.sub("<br/>", rest.strip()))
    except ET.ParseError as exc:
        problems.append(f"not one XML root element ({exc})")
        return None


def fields_problems(element, names, what):
    tags = [child.tag for child in element]
    missing = [name for name in names if name not in tags]
    return [f"{what} lacks <{'>, <'.join(missing)}>"] if missing else []


def catalogue_problems(body):
    """imeiservices: <Packages><Package> with its six fields, a numeric id and a price."""
    problems = []
    root = root_of(body, problems)
    if root is None:
        return problems
    if root.tag != "Packages":
        return [*problems, f"the root is <{root.tag}>, not <Packages>: {body[:120]!r}"]
    packages = list(root)
    if not packages:
        problems.append("<Packages> lists no <Package>")
    for tag in sorted({p.tag for p in packages} - {"Package"}):
        problems.append(f"<Packages> holds <{tag}>")
    for package in (p for p in packages if p.tag == "Package"):
        problems += package_problems(package)
    return dedupe(problems)


def package_problems(package):
    problems = fields_problems(package, PACKAGE_FIELDS, "a <Package>")
    package_id = (package.findtext("PackageId") or "").strip()
    if package_id and not package_id.isdigit():
        problems.append(f"<PackageId> {package_id!r} is not a number")
    price = (package.findtext("PackagePrice") or "").strip().lstrip("$")
    try:
        Decimal(price)
    except InvalidOperation:
        problems.append(f"<PackagePrice> {price!r} is not a price")
    return problems


def getimeis_problems(body, asked_id):
    """getimeis for one id of ours: <result><imeis> with its six fields and a known status."""
    problems = []
    root = root_of(body, problems)
    if root is None:
        return problems
    if root.tag != "result":
        return [*problems, f"the root is <{root.tag}>, not <result>: {body[:120]!r}"]
    orders = [el for el in root if el.tag == "imeis"]
    answered = [el for el in orders if (el.findtext("id") or "").strip() == str(asked_id)]
    if not answered:
        return [*problems, f"getimeis did not answer for our order {asked_id}"]
    order = answered[0]
    problems += fields_problems(order, ORDER_FIELDS, "an <imeis>")
    status = (order.findtext("status") or "").strip()
    if status not in STATUSES:
        problems.append(f"status {status!r} is none of {', '.join(sorted(STATUSES))}")
    return dedupe(problems)


def dedupe(problems):
    return list(dict.fromkeys(problems))
