#!/usr/bin/env python3
"""table.py RESULTS.TSV: prints bench/build's "target vs measured" markdown table.

RESULTS.TSV has one "key<TAB>value" line per measurement written by run.sh
(seconds for series medians, NAME_cpu for a series' mean user + sys seconds,
KiB for RSS, FAIL for a failed series). Series named bk_* are BuildKit's
builds of the same cases; without them the BuildKit columns say n/a.
"""
import sys


def main():
    vals = {}
    for line in open(sys.argv[1]):
        key, _, value = line.rstrip("\n").partition("\t")
        vals[key] = value

    def num(key):
        v = vals.get(key)
        try:
            return float(v)
        except (TypeError, ValueError):
            return None

    rows = []

    def row(what, target, measured, ok, note="", bk=("n/a", "n/a")):
        verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
        rows.append((what, target, measured, verdict) + bk + (note,))

    def missing(*keys):
        bad = [k for k in keys if num(k) is None]
        return ", ".join("%s=%s" % (k, vals.get(k, "not run")) for k in bad)

    def cpu(key):
        c = num(key + "_cpu")
        return "" if c is None else "CPU %.2f s" % c

    def paren(text):
        return " (%s)" % text if text else ""

    def versus(kiln, key, unit, minus=None, per=1):
        """The "BuildKit" and "kiln / BuildKit" cells of a case.

        `kiln` is kiln's seconds (None if it failed); BuildKit's are series
        `key`, less series `minus` if given, divided by `per`; `unit` is "ms"
        or "s". BuildKit's CPU time is not shown: hyperfine sees only the
        client's, the work is done in dockerd.
        """
        keys = [key] + ([minus] if minus else [])
        if not any(k in vals for k in keys):
            return ("n/a", "n/a")
        if missing(*keys):
            return ("FAIL (%s)" % missing(*keys), "n/a")
        t = (num(key) - (num(minus) if minus else 0)) / per
        shown = "%.1f ms" % (t * 1e3) if unit == "ms" else "%.3f s" % t
        if kiln is None or t <= 0:
            return (shown, "n/a")
        return (shown, "%.2f" % (kiln / t))

    if "noop" in vals:
        t = num("noop")
        if t is None:
            row("no-op rebuild, 30 instructions", "<= 50 ms", "FAIL", False, bk=versus(None, "bk_noop", "ms"))
        else:
            row("no-op rebuild, 30 instructions", "<= 50 ms", "%.1f ms" % (t * 1e3), t <= 0.050, cpu("noop"),
                versus(t, "bk_noop", "ms"))
    if "run5" in vals or "runc_bare" in vals:
        if missing("run5", "run0", "runc_bare"):
            row("RUN true vs bare runc run", "<= 1.5x", "FAIL (%s)" % missing("run5", "run0", "runc_bare"), False,
                bk=versus(None, "bk_run5", "ms", "bk_run0", 5))
        else:
            per = (num("run5") - num("run0")) / 5
            bare = num("runc_bare")
            note = ("%.1f ms per RUN (5-RUN %.0f ms - 0-RUN %.0f ms) / 5; runc %.1f ms"
                    % (per * 1e3, num("run5") * 1e3, num("run0") * 1e3, bare * 1e3))
            if not missing("bk_run5", "bk_run0"):
                note += "; BuildKit per RUN (%.0f ms - %.0f ms) / 5" % (num("bk_run5") * 1e3, num("bk_run0") * 1e3)
            row("RUN true vs bare runc run", "<= 1.5x", "%.2fx" % (per / bare), per / bare <= 1.5, note,
                versus(per, "bk_run5", "ms", "bk_run0", 5))
    if "copy_cold" in vals:
        if missing("copy_cold", "tar_sha"):
            row("COPY . 300 MiB cold vs tar \\| sha256sum", "<= 2x", "FAIL (%s)" % missing("copy_cold", "tar_sha"), False,
                bk=versus(num("copy_cold"), "bk_copy_cold", "s"))
        else:
            r = num("copy_cold") / num("tar_sha")
            note = "kiln %.2f s%s, tar \\| sha256sum %.2f s%s" % (
                num("copy_cold"), paren(cpu("copy_cold")), num("tar_sha"), paren(cpu("tar_sha")))
            if num("copy_cold_cpu") is not None and num("tar_sha_cpu"):
                note += "; CPU ratio %.2fx" % (num("copy_cold_cpu") / num("tar_sha_cpu"))
            if num("cp_ref") is not None:
                note += "; cp -a of the context %.2f s%s" % (num("cp_ref"), paren(cpu("cp_ref")))
            row("COPY . 300 MiB cold vs tar \\| sha256sum", "<= 2x", "%.2fx" % r, r <= 2, note,
                versus(num("copy_cold"), "bk_copy_cold", "s"))
    if "copy_warm" in vals:
        t = num("copy_warm")
        row("COPY . 300 MiB, unchanged rebuild", "(none)", "FAIL" if t is None else "%.3f s" % t, None, cpu("copy_warm"),
            versus(t, "bk_copy_warm", "s"))
    if "copy_edit" in vals:
        t = num("copy_edit")
        row("COPY . 300 MiB, one small file changed", "<= 0.5 s", "FAIL" if t is None else "%.3f s" % t,
            t is not None and t <= 0.5, cpu("copy_edit"),
            versus(t, "bk_copy_edit", "s"))
    if "par3" in vals:
        stage = num("stage_cpu")
        if missing("par3", "stage_cpu"):
            row("3 stages x 1.5 s CPU, 2 cores", "<= 1.15 x 2.25 s", "FAIL (%s)" % missing("par3", "stage_cpu"), False,
                bk=versus(num("par3"), "bk_par3", "s"))
        else:
            limit = 1.15 * 1.5 * stage
            note = "one stage = %.2f s CPU (SPIN=%s), limit %.2f s" % (stage, vals.get("spin"), limit)
            if num("par1") is not None:
                note += "; 1-stage build %.2f s" % num("par1")
            row("3 stages x 1.5 s CPU, 2 cores", "<= 1.15 x 2.25 s", "%.2f s" % num("par3"), num("par3") <= limit, note,
                versus(num("par3"), "bk_par3", "s"))
    if "rss_cold_kib" in vals:
        kib = num("rss_cold_kib")
        note = ""
        if num("rss_warm_kib") is not None:
            note = "unchanged rebuild: %.1f MiB" % (num("rss_warm_kib") / 1024)
        row("peak RSS, COPY . 300 MiB cold", "<= 100 MiB", "FAIL" if kib is None else "%.1f MiB" % (kib / 1024),
            kib is not None and kib <= 100 * 1024, note)

    print("| target | limit | measured | verdict | BuildKit | kiln / BuildKit | detail |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s |" % " | ".join(r))


if __name__ == "__main__":
    main()
