#!/usr/bin/env python3
"""Reads the results folder of one gpu-check.sh run and prints issue 13's goals as a Markdown table,
measured against goal, so docs/benchmarks.md's GPU part is written from the raw logs, not by hand.

  usage: build/gpu-run-report.py RESULTS_DIR [--shapes-dir samples/GpuConv.Cli/shapes] [--rehearsal]

--rehearsal reads a GPUCONV_CHECK_REHEARSAL=1 run, where the cpu backend stood in for cudnn and ptx.

Reads summary.txt, gpu-tests.txt, torch-compare.txt, bench-*-vs-*.txt and probe-*.txt; whatever a run
did not produce reads "not measured". Standard library only (runs here and on the GPU host).
"""
import argparse, csv, math, os, re, sys


def read(folder, name):
    path = os.path.join(folder, name)
    return open(path, errors="replace").read() if os.path.exists(path) else ""


def last_int(text, key):
    """The test platform's run summary ("  total: 69"); the last one, as tests print lines of their own."""
    found = re.findall(rf"^  {key}: *(\d+)", text, re.M)
    return int(found[-1]) if found else None


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def set_of_rows(shapes_dir, name):
    path = os.path.join(shapes_dir, name + ".csv")
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        return {row["name"] for row in csv.DictReader(l for l in f if l.strip() and not l.startswith("#"))}


def torch_sections(text):
    """Per backend: (ok, cases, worst), per-shape speedups, and the script's own geomean line."""
    out = {}
    for m in re.finditer(r"^correctness\[(\w+)\]: (\d+)/(\d+) .*?worst ([0-9.e+-]+)", text, re.M):
        out.setdefault(m[1], {})["correct"] = (int(m[2]), int(m[3]), m[4])
    # Speed tables follow their backend's correctness line; rows are "name ours torch speedup".
    backend = None
    for line in text.splitlines():
        m = re.match(r"^correctness\[(\w+)\]", line)
        if m:
            backend = m[1]
            continue
        m = re.match(r"^(\S+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)$", line)
        if backend and m:
            out[backend].setdefault("rows", {})[m[1]] = float(m[4])
        m = re.match(r"^speed\[(\w+)\]: .*= ([0-9.]+)x on (\d+) shapes", line)
        if m:
            out.setdefault(m[1], {})["geomean"] = (float(m[2]), int(m[3]))
    return out


def fmt(v, digits=2):
    return "not measured" if v is None else f"{v:.{digits}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--shapes-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "samples", "GpuConv.Cli", "shapes"))
    ap.add_argument("--rehearsal", action="store_true", help="the cpu backend stood in for cudnn and ptx")
    args = ap.parse_args()
    r = args.results
    # A mistyped folder would otherwise read as a run that measured nothing.
    if not os.path.isfile(os.path.join(r, "summary.txt")):
        sys.exit(f"gpu-run-report: {r} has no summary.txt: not the results folder of a gpu-check.sh run "
                 "(unpack gpu-results.tar.gz and pass its results/ folder)")
    logs = {"cudnn": "cpu", "ptx": "cpu"} if args.rehearsal else {"cudnn": "cudnn", "ptx": "ptx"}
    goals = []  # (goal, measured, verdict)

    def verdict(ok):
        return "not measured" if ok is None else ("met" if ok else "**missed**")

    tests = read(r, "gpu-tests.txt")
    total, failed, skipped = (last_int(tests, k) for k in ("total", "failed", "skipped"))
    goals.append(("Gpu tests: 0 failed, 0 skipped",
                  f"{total} tests, {failed} failed, {skipped} skipped" if total is not None else "not measured",
                  verdict(None if total is None else failed == 0 and skipped == 0)))

    torch = torch_sections(read(r, "torch-compare.txt"))
    for b in ("cudnn", "ptx"):
        c = torch.get(logs[b], {}).get("correct")
        goals.append((f"torch_compare correctness[{b}]: 200/200",
                      f"{c[0]}/{c[1]}, worst rel L2 {c[2]}" if c else "not measured",
                      verdict(None if not c else c[0] == c[1] == 200)))

    sets = {name: set_of_rows(args.shapes_dir, name) for name in ("resnet50", "mobilenet_v2")}
    rows = torch.get(logs["cudnn"], {}).get("rows", {})
    for name, members in sets.items():
        g = geomean([v for k, v in rows.items() if k in members])
        n = sum(1 for k in rows if k in members)
        goals.append((f"cudnn vs PyTorch (benchmark=True, TF32 off), {name}: geomean >= 1.0x",
                      f"{fmt(g)}x on {n} shapes" if g is not None else "not measured", verdict(None if g is None else g >= 1.0)))
    g = torch.get(logs["cudnn"], {}).get("geomean")
    goals.append(("cudnn vs PyTorch, both networks: geomean >= 1.0x",
                  f"{g[0]:.2f}x on {g[1]} shapes" if g else "not measured", verdict(None if not g else g[0] >= 1.0)))

    probe = {b: read(r, f"probe-{logs[b]}.txt") for b in ("cudnn", "ptx")}
    # A difference of two timings: noise can make it negative, and a negative number is still a measurement.
    m = re.search(r"^overhead:.*engine over bare (-?[0-9.]+) us", probe["cudnn"], re.M)
    goals.append(("ConvEngine per-call overhead over the bare cuDNN call: < 5 us",
                  f"{m[1]} us" if m else "not measured", verdict(None if not m else float(m[1]) < 5)))

    bench = read(r, f"bench-{logs['ptx']}-vs-{logs['cudnn']}.txt")
    kinds = {k: float(v) for k, v in re.findall(r"(3x3|1x1|depthwise|other|all) ([0-9.]+)x", (re.search(r"^geomean .* by kind:.*$", bench, re.M) or [""])[0])}
    for kind, goal in (("3x3", 0.6), ("1x1", 0.9), ("depthwise", 1.0)):
        v = kinds.get(kind)
        goals.append((f"ptx vs cudnn, {kind}: >= {goal}x", f"{fmt(v)}x" if v is not None else "not measured", verdict(None if v is None else v >= goal)))

    m = re.search(r"^bandwidth: im2col ([0-9.]+) GB/s, device copy ([0-9.]+) GB/s, ratio ([0-9.]+)", probe["ptx"], re.M)
    goals.append(("im2col kernel bandwidth against the device copy (no number set)",
                  f"{m[1]} GB/s vs {m[2]} GB/s = {m[3]}" if m else "not measured", "reported" if m else "not measured"))
    m = re.search(r"^plan-start: cold exhaustive ([0-9.]+) ms, warm plan cache ([0-9.]+) ms.*?([0-9.]+)x", probe["cudnn"], re.M)
    goals.append(("warm plan-cache start vs cold exhaustive search: >= 50x faster to the first result",
                  f"{m[1]} ms cold, {m[2]} ms warm: {m[3]}x" if m else "not measured", verdict(None if not m else float(m[3]) >= 50)))

    m = re.search(r"^plan-start \(processes\): cold exhaustive ([0-9]+) ms, warm plan cache ([0-9]+) ms.*?([0-9.]+)x", read(r, "plan-start-processes.txt"), re.M)
    goals.append(("the same as two whole processes (.NET start, CUDA, library loading included; a record, not the goal)",
                  f"{m[1]} ms cold, {m[2]} ms warm: {m[3]}x" if m else "not measured", "reported" if m else "not measured"))

    print(f"Issue 13's goals, read from {os.path.abspath(r)} by build/gpu-run-report.py\n")
    print("| goal | measured | verdict |")
    print("|---|---|---|")
    for goal, measured, v in goals:
        print(f"| {goal} | {measured} | {v} |")
    # Where the cudnn-vs-PyTorch goal is lost: the slowest shapes against PyTorch, for whoever tunes next.
    behind = sorted((v, k) for k, v in rows.items() if v < 1.0)
    if behind:
        print(f"\ncudnn shapes behind PyTorch ({len(behind)} of {len(rows)}), slowest first: " +
              ", ".join(f"{k} {v:.2f}x" for v, k in behind[:12]))
    summary = read(r, "summary.txt").strip()
    if summary:
        print("\nsummary.txt:\n\n```\n" + summary + "\n```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
