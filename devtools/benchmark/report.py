"""Figures against their targets, and the table printed at the end of a run."""

from .config import TARGETS, meets


def lookup(results, key):
    value = results
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def verdicts(results):
    """{target key: {value, target, pass}} for every target; pass is None when not measured."""
    found = {}
    for key, (op, target, unit) in TARGETS.items():
        value = lookup(results, key)
        found[key] = {"value": value, "op": op, "target": target, "unit": unit}
        found[key]["pass"] = meets(value, op, target)
    return found


def fmt(value, unit=""):
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    else:
        text = f"{value:,}"
    return f"{text} {unit}".rstrip()


def mark(verdict):
    return {True: "PASS", False: "MISS", None: "n/a"}[verdict["pass"]]


def table(results):
    """The run's figures as plain text: one line per figure, targets with PASS/MISS."""
    v = results["verdicts"]
    c = results["config"]
    lines = [
        f"Benchmark on {results['database_vendor']} ({results['broker']} broker), "
        f"{c['orders']:,} orders, latency {c['latency']:g}±{c['jitter']:g} s, "
        f"concurrency {c['concurrency']}, results after {c['complete_after']:g} s, "
        f"polled every {c['poll_seconds']} s",
        "",
        f"{'figure':<44} {'value':>14}   {'target':<10} verdict",
    ]

    def row(label, value, unit="", key=None):
        target = ""
        verdict = ""
        if key:
            target = f"{v[key]['op']} {fmt(v[key]['target'], v[key]['unit'])}"
            verdict = mark(v[key])
        lines.append(f"{label:<44} {fmt(value, unit):>14}   {target:<10} {verdict}".rstrip())

    imp, eng, res, cost, pages = (
        results.get(k) or {} for k in ("import", "engine", "results", "cost", "pages")
    )
    lines.append("import")
    row("  rows", imp.get("rows"))
    row("  rows per second", imp.get("rows_per_second"))
    row("  upload (check the file)", imp.get("seconds_upload"), "s")
    row("  confirm (create the batch)", imp.get("seconds_confirm"), "s")
    row(
        "  upload -> confirmed batch",
        imp.get("seconds_upload_to_confirmed"),
        "s",
        "import.seconds_upload_to_confirmed",
    )
    lines.append("sending (engine: real qcluster)")
    row("  wall time, first claim -> last placed", eng.get("wall_seconds"), "s")
    row("  bound, orders x latency / concurrency", eng.get("bound_seconds"), "s")
    row("  efficiency, bound / wall", eng.get("efficiency"), "", "engine.efficiency")
    row("  share of the thread pool's throughput", eng.get("pool_ratio"))
    row("  mean call latency seen by the client", eng.get("mean_latency_s"), "s")
    row("  efficiency vs measured latency", eng.get("efficiency_measured"))
    row("  orders per second", eng.get("orders_per_second"))
    row("  peak in-flight at the provider", eng.get("peak_inflight"))
    row("  IMEIs placed more than once", eng.get("imeis_placed_more_than_once"))
    row("  orders created, not recorded (lost)", eng.get("lost"))
    lines.append("results")
    row("  completed", res.get("completed"))
    row("  lag provider Completed -> portal, p50", res.get("lag_p50_s"), "s")
    row("  lag p95", res.get("lag_p95_s"), "s")
    row("  seconds upload -> every order final", res.get("seconds_to_all_final"), "s")
    lines.append("cost in the portal (the cluster's processes)")
    row("  database queries per order", cost.get("queries_per_order"))
    row("  CPU seconds per 1,000 orders", cost.get("cpu_seconds_per_1000"), "s")
    row("  peak memory (RSS sum)", cost.get("peak_rss_mib"), "MiB", "cost.peak_rss_mib")
    lines.append(
        f"pages ({fmt(pages.get('orders_in_database'))} orders in the database, "
        f"batch of {fmt(pages.get('batch_orders'))}, median of {pages.get('requests_each', '—')})"
    )
    row("  batch page", pages.get("batch_page_ms"), "ms", "pages.batch_page_ms")
    row("  batch page JSON", pages.get("batch_json_ms"), "ms", "pages.batch_json_ms")
    row("  order changelist", pages.get("changelist_ms"), "ms", "pages.changelist_ms")
    row(f"  search of {pages.get('search_imeis', 1000)} IMEIs", pages.get("search_1000_ms"), "ms")
    lines += ["", *comparison(results)]
    return "\n".join(lines)


def comparison(results):
    approaches = [("engine (qcluster)", results.get("engine"))]
    baselines = results.get("baselines") or {}
    seq = baselines.get("sequential")
    if seq:
        label = "sequential"
        if seq.get("extrapolated"):
            label += f" (extrapolated from {seq['measured_orders']})"
        approaches.append((label, seq))
    approaches.append(("thread pool", baselines.get("thread_pool")))
    header = ("approach", "wall s", "orders/s", "effic.", "peak", "dup", "lost")
    lines = ["{:<34} {:>10} {:>9} {:>7} {:>5} {:>4} {:>5}".format(*header)]
    for label, f in approaches:
        if not f:
            lines.append(f"{label:<34} {'skipped':>10}")
            continue
        lines.append(
            f"{label:<34} {fmt(f['wall_seconds']):>10} {fmt(f['orders_per_second']):>9} "
            f"{fmt(f['efficiency']):>7} {fmt(f['peak_inflight']):>5} "
            f"{fmt(f['imeis_placed_more_than_once']):>4} {fmt(f.get('lost')):>5}"
        )
    return lines
