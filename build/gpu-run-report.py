#!/usr/bin/env python3
"""Turns the results folder of one gpu-check.sh run into the GPU part of docs/benchmarks.md: every goal of
issue 13 with the measured value, PASS / MISS and by how much, read from the raw logs (never typed by hand).

  usage: build/gpu-run-report.py RESULTS_DIR [--write docs/benchmarks.md] [--shapes-dir DIR] [--rehearsal]

Without --write the Markdown goes to stdout. --write FILE puts it into FILE in place of the block between
the markers this script writes (<!-- gpu-run-report:begin --> … <!-- gpu-run-report:end -->), or, the first
time, in place of the GPU part's opening (from the line "# GPU benchmarks" up to its first "## " subsection
or the next "# " part), so the dated subsections below it stay.

Where the numbers come from (each parser is one regular expression over one log, named beside it below):
  gpu-tests.txt          the test platform's last "  total: / failed: / skipped:" lines; gpu-tests-skips.txt
  torch-compare.txt      "correctness[B]: OK/N ... worst E" and, after it, B's speed rows "name ours torch speedup";
                         "speed[B]: geomean speedup over PyTorch (PEER) = Gx on N shapes"
  probe-cudnn.txt        "overhead: ... engine over bare X us" and "plan-start: cold exhaustive C ms, warm plan cache W ms ... Rx"
  probe-ptx.txt          "bandwidth: im2col A GB/s, device copy B GB/s, ratio R"
  bench-ptx-vs-cudnn.txt "geomean ptx/cudnn by kind: 3x3 Rx (n shapes); 1x1 …"; table rows for plan sources and the slowest shapes
  resnet50.txt           "resnet50[gpuconv]: batch B median X ms wall, first F ms, …" and "resnet50[torch]: batch B median
                         Y ms wall[, E ms events], …": a whole network against PyTorch, extra evidence below the goals;
                         the same lines with "mobilenetv2[…]" / "convnexttiny[…]" when the step also ran MobileNetV2 /
                         ConvNeXt-T (GPUCONV_CHECK_NETWORKS)
  plan-start-processes.txt, summary.txt, system.txt, devices.txt (what ran where)
A log a run did not produce reads "not measured". The header says when the numbers are NOT a GPU
measurement: the native fakes (tests/NativeFakes: device name "GpuConv native fake", no nvidia-smi; with
GPUCONV_FAKE_NO_COMPUTE=1 the steps' results are not even computed) or a GPUCONV_CHECK_REHEARSAL=1 run, where
the cpu backend stood in for cudnn and ptx (also forced by --rehearsal). Standard library only.
"""
import argparse, csv, math, os, re, sys

BEGIN = "<!-- gpu-run-report:begin (written by build/gpu-run-report.py from the run's logs; notes go below the end marker) -->"
END = "<!-- gpu-run-report:end -->"


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
    """Per backend: correct (ok, cases, worst), rows {shape: speedup}, geomean (value, shapes, peer)."""
    out = {}
    for m in re.finditer(r"^correctness\[(\w+)\]: (\d+)/(\d+) .*?worst ([0-9.e+-]+|inf|nan)", text, re.M):
        out.setdefault(m[1], {})["correct"] = (int(m[2]), int(m[3]), m[4])
    # Speed rows follow their backend's correctness line: "name  gpuconv_ms  torch_ms  speedup".
    backend = None
    for line in text.splitlines():
        m = re.match(r"^correctness\[(\w+)\]", line)
        if m:
            backend = m[1]
            continue
        m = re.match(r"^(\S+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)$", line)
        if backend and m:
            out[backend].setdefault("rows", {})[m[1]] = float(m[4])
        m = re.match(r"^speed\[(\w+)\]: geomean speedup over PyTorch \(([^)]*)\) = ([0-9.]+)x on (\d+) shapes", line)
        if m:
            out.setdefault(m[1], {})["geomean"] = (float(m[3]), int(m[4]), m[2])
    return out


def bench_rows(text):
    """The bench table's rows (Spectre's '│' columns): shape, kind, algorithm, plan source, peer algorithm, ratio."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) < 12 or cells[0] == "shape":
            continue
        try:
            ratio = float(cells[-2])
        except ValueError:
            continue
        source = re.search(r"\((\w+)\)", cells[7])
        rows.append(dict(shape=cells[0], kind=cells[2], algorithm=cells[4], source=source[1] if source else "?",
                         peer_algorithm=cells[10] if len(cells) >= 13 else "", ratio=ratio))
    return rows


def network_sides(text, key):
    """resnet50.txt's result lines of network KEY per side ("gpuconv", "torch"): batch, median wall ms, first ms, events ms, check, where."""
    sides = {}
    for m in re.finditer(rf"^{key}\[(gpuconv|torch)\]: batch (\d+) median ([0-9.]+) ms wall(?:, ([0-9.]+) ms events)?, first ([0-9.]+) ms(.*)$", text, re.M):
        check = re.search(r"max rel error (\S+)(?: vs ([^(]*?))? \(?(PASS|FAIL)", m[6])
        where = re.search(r"\((backend .*|device .*)\)\s*$", m[6])
        sides[m[1]] = dict(batch=int(m[2]), median=float(m[3]), events=float(m[4]) if m[4] else None, first=float(m[5]),
                           check=(f"{check[3]} (max rel error {check[1]}{' vs ' + check[2].strip() if check[2] else ''})" if check else "not checked"),
                           where=where[1] if where else "")
    return sides


def resnet50_evidence(text):
    """The Markdown lines for the resnet50 step (empty when the run has no resnet50.txt): ResNet-50's table, then
    MobileNetV2's and ConvNeXt-T's when the step ran them too."""
    if not text:
        return []
    sides = network_sides(text, "resnet50")
    out = ["", "Whole network (extra evidence, not one of issue 13's goals): ResNet-50 inference, random weights, BatchNorm "
           "folded on both sides, one upload + the network + one download per run, host wall-clock median (resnet50.txt):", ""]
    if not sides:
        out += ["- not measured: resnet50.txt has no result line"]
    else:
        out += network_table(sides)
    mobilenet = network_sides(text, "mobilenetv2")
    if mobilenet:
        out += ["", "MobileNetV2 the same way (depthwise 3x3, inverted residuals, ReLU6; resnet50.txt):", ""] + network_table(mobilenet)
    convnext = network_sides(text, "convnexttiny")
    if convnext:
        out += ["", "ConvNeXt-T the same way, PyTorch as torchvision builds it (depthwise 7x7, LayerNorm, Linear + GELU; "
                "nothing to fold; resnet50.txt):", ""] + network_table(convnext)
    return out


def network_table(sides):
    """One network's two rows (ours, PyTorch's) and PyTorch / GpuConv."""
    out = ["| side | batch | median | first run | check | where |", "|---|---|---|---|---|---|"]
    for name in ("gpuconv", "torch"):
        d = sides.get(name)
        if d:
            events = f" ({d['events']:.3f} ms CUDA events)" if d["events"] is not None else ""
            out.append(f"| {name} | {d['batch']} | {d['median']:.3f} ms{events} | {d['first']:.1f} ms | {d['check']} | {d['where']} |")
        else:
            out.append(f"| {name} | | not measured | | | |")
    if "gpuconv" in sides and "torch" in sides and sides["gpuconv"]["median"] > 0:
        ratio = sides["torch"]["median"] / sides["gpuconv"]["median"]
        out += ["", f"PyTorch / GpuConv: **{ratio:.2f}x** ({'GpuConv faster' if ratio > 1 else 'PyTorch faster' if ratio < 1 else 'even'}; "
                "above 1 means GpuConv's whole network is faster)" +
                ("; **PyTorch ran on the CPU**: not a comparison on the same GPU" if sides["torch"]["where"].startswith("device cpu") else "") +
                ("; **a side failed its check**: its time is not a result" if any(d["check"].startswith("FAIL") for d in sides.values()) else "") + "."]
    return out


def at_least(value, goal):
    """Verdict and margin for a goal 'value >= goal'."""
    if value is None:
        return "not measured", ""
    if value >= goal:
        return "PASS", f"+{(value / goal - 1) * 100:.0f} % over the goal"
    if value <= 0:  # a ratio that prints as 0.00: far behind, not unmeasured
        return "MISS", "100 % short"
    return "MISS", f"{(1 - value / goal) * 100:.0f} % short: needs {goal / value:.2f}x faster"


def below(value, goal, unit):
    """Verdict and margin for a goal 'value < goal'."""
    if value is None:
        return "not measured", ""
    if value < goal:
        return "PASS", f"{goal - value:.2f} {unit} under the limit"
    return "MISS", f"{value - goal:.2f} {unit} over the limit"


def provenance(r, rehearsal):
    """What produced the numbers: a GPU, the native fakes (with or without arithmetic) or the cpu stand-in."""
    system, devices = read(r, "system.txt"), read(r, "devices.txt")
    logs = "".join(read(r, f) for f in sorted(os.listdir(r)) if f.endswith(".txt"))
    fake = "GpuConv native fake" in devices + logs
    no_compute = "GPUCONV_FAKE_NO_COMPUTE=1" in logs
    gpu = re.search(r"^\s*GPU 0: (.*)$", devices, re.M)
    if rehearsal:
        kind = ("**Not a GPU measurement**: a GPUCONV_CHECK_REHEARSAL=1 run on a CPU machine; the cpu backend stood in "
                "for cudnn and ptx, so every number below is the cpu backend's and every verdict is meaningless.")
    elif fake:
        kind = ("**Not a GPU measurement**: this run used the native fakes (tests/NativeFakes: C libraries standing in for "
                "libcuda, cuDNN and cuBLAS on a machine without a GPU)" +
                ("; steps run with GPUCONV_FAKE_NO_COMPUTE=1 did no arithmetic at all, so their correctness lines fail and "
                 "their times are the fakes' bookkeeping" if no_compute else "; times are the fakes' naive loops") +
                ". The table proves the logs are read, not any goal.")
    elif "nvidia-smi not available" in system or not gpu:
        kind = "**No usable GPU in this run** (system.txt: no nvidia-smi, or devices.txt lists no GPU): nothing below is a GPU measurement."
    else:
        kind = None
    date = re.search(r"^date: (\S+)", system, re.M)
    commit = re.search(r"^commit: +(.*)$", system, re.M)
    libs = re.search(r"^cuDNN ([0-9.]+)", devices, re.M), re.search(r"^cuBLAS ([0-9.]+)", devices, re.M), re.search(r"CUDA ([0-9.]+)", devices)
    torch = re.search(r"^device (.*)$", read(r, "torch-compare.txt"), re.M)
    where = "; ".join(x for x in (
        f"run {date[1]}" if date else None,
        f"pack commit {commit[1].strip()}" if commit else None,
        f"GPU 0: {gpu[1]}" if gpu else "no GPU listed",
        f"CUDA {libs[2][1]}, cuDNN {libs[0][1]}, cuBLAS {libs[1][1]}" if all(libs) else None,
        f"PyTorch peer: {torch[1]}" if torch else None) if x)
    return kind, where


def report(r, shapes_dir, rehearsal):
    rehearsal = rehearsal or "GPUCONV_CHECK_REHEARSAL=1" in read(r, "system.txt")
    logs = {"cudnn": "cpu", "ptx": "cpu"} if rehearsal else {"cudnn": "cudnn", "ptx": "ptx"}
    goals = []  # (goal, measured, verdict, margin)

    tests = read(r, "gpu-tests.txt")
    total, failed, skipped = (last_int(tests, k) for k in ("total", "failed", "skipped"))
    if total is None:
        goals.append(("Gpu test category: 0 failed, 0 skipped", "not measured", "not measured", ""))
    else:
        ok = failed == 0 and skipped == 0
        goals.append(("Gpu test category: 0 failed, 0 skipped", f"{total} tests, {failed} failed, {skipped} skipped",
                      "PASS" if ok else "MISS", "" if ok else f"{failed} failed, {skipped} skipped (gpu-tests.txt, gpu-tests-skips.txt)"))

    torch = torch_sections(read(r, "torch-compare.txt"))
    for b in ("cudnn", "ptx"):
        c = torch.get(logs[b], {}).get("correct")
        if not c:
            goals.append((f"torch_compare.py correctness[{b}]: 200/200 against PyTorch float64", "not measured", "not measured", ""))
            continue
        ok = c[0] == c[1] == 200
        goals.append((f"torch_compare.py correctness[{b}]: 200/200 against PyTorch float64", f"{c[0]}/{c[1]}, worst rel L2 {c[2]}",
                      "PASS" if ok else "MISS", "" if ok else (f"{c[1] - c[0]} of {c[1]} cases off" if c[1] == 200 else f"{c[1]} cases run, not 200")))

    cudnn_torch = torch.get(logs["cudnn"], {})
    peer = (cudnn_torch.get("geomean") or (None, None, ""))[2]
    on_cpu = peer.startswith("CPU") or re.search(r"^device cpu", read(r, "torch-compare.txt"), re.M)
    rows = cudnn_torch.get("rows", {})
    sets = {"ResNet-50": set_of_rows(shapes_dir, "resnet50"), "MobileNetV2": set_of_rows(shapes_dir, "mobilenet_v2")}
    speed_goals = [(name, [v for k, v in rows.items() if k in members]) for name, members in sets.items()]
    speed_goals.append(("both networks", list(rows.values())))
    for name, values in speed_goals:
        g = geomean(values)
        goal = f"cudnn vs PyTorch (cudnn.benchmark=True, TF32 off), {name}: geomean >= 1.0x"
        on = f"{g:.2f}x on {len(values)} shape{'s' if len(values) != 1 else ''}" if g is not None else "not measured"
        if g is not None and on_cpu:
            goals.append((goal, f"{on} against PyTorch on the CPU", "not measured", "the peer must be PyTorch on the GPU"))
        else:
            goals.append((goal, on, *at_least(g, 1.0)))

    probe = {b: read(r, f"probe-{logs[b]}.txt") for b in ("cudnn", "ptx")}
    # A difference of two timings: noise can make it negative, and a negative number is still a measurement.
    m = re.search(r"^overhead: engine ([0-9.]+) us/call, backend ([0-9.]+) us/call, bare ([0-9.]+) us/call; engine over bare (-?[0-9.]+) us", probe["cudnn"], re.M)
    goals.append(("ConvEngine per-call overhead over the bare cuDNN call (tiny convolution): < 5 us",
                  f"{m[4]} us (engine {m[1]}, bare {m[3]} us/call)" if m else "not measured", *below(float(m[4]) if m else None, 5.0, "us")))

    bench = read(r, f"bench-{logs['ptx']}-vs-{logs['cudnn']}.txt")
    kind_line = re.search(r"^geomean \S+ by kind:.*$", bench, re.M)
    kinds = {k: (float(v), int(n)) for k, v, n in re.findall(r"(3x3|1x1|depthwise|other|all) ([0-9.]+)x \((\d+) shapes?\)", kind_line[0] if kind_line else "")}
    for kind, goal in (("3x3", 0.6), ("1x1", 0.9), ("depthwise", 1.0)):
        v = kinds.get(kind)
        goals.append((f"ptx vs cudnn, {kind}: geomean >= {goal}x", f"{v[0]:.2f}x on {v[1]} shape{'s' if v[1] != 1 else ''}" if v else "not measured", *at_least(v[0] if v else None, goal)))

    m = re.search(r"^bandwidth: im2col ([0-9.]+) GB/s, device copy ([0-9.]+) GB/s, ratio ([0-9.]+)", probe["ptx"], re.M)
    goals.append(("im2col kernel's bandwidth against the device's copy bandwidth (no number set)",
                  f"{m[1]} GB/s against {m[2]} GB/s: {float(m[3]) * 100:.0f} % of the copy" if m else "not measured",
                  "reported" if m else "not measured", ""))
    m = re.search(r"^plan-start: cold exhaustive ([0-9.]+) ms, warm plan cache ([0-9.]+) ms to the first result of (\S+) \((\d+) layers\), ([0-9.]+)x", probe["cudnn"], re.M)
    goals.append(("warm plan-cache start vs cold exhaustive search: >= 50x faster to the first result",
                  f"{m[5]}x ({m[1]} ms cold, {m[2]} ms warm, {m[3]}, {m[4]} layers)" if m else "not measured",
                  *at_least(float(m[5]) if m else None, 50.0)))
    m = re.search(r"^plan-start \(processes\): cold exhaustive ([0-9]+) ms, warm plan cache ([0-9]+) ms.*?([0-9.]+)x", read(r, "plan-start-processes.txt"), re.M)
    goals.append(("the same start as two whole processes (.NET, CUDA and library loading included; a record, not the goal)",
                  f"{m[3]}x ({m[1]} ms cold, {m[2]} ms warm)" if m else "not measured", "reported" if m else "not measured", ""))

    # ---- the Markdown
    kind, where = provenance(r, rehearsal)
    out = [BEGIN, ""]
    if kind:
        out += [f"> {kind}", ""]
    out += [f"Read from `{os.path.normpath(r)}` ({where}). Strict FP32; plans from exhaustive searches; peers measured in the same run.", ""]
    out += ["| issue 13 goal | measured | verdict | by how much |", "|---|---|---|---|"]
    out += [f"| {g} | {meas} | {'**MISS**' if v == 'MISS' else v} | {margin} |" for g, meas, v, margin in goals]
    passed = sum(1 for g in goals if g[2] == "PASS")
    missed = [g[0].split(":")[0] for g in goals if g[2] == "MISS"]
    unmeasured = sum(1 for g in goals if g[2] == "not measured")
    out += ["", f"{passed} goals met, {len(missed)} missed{': ' + '; '.join(missed) if missed else ''}, {unmeasured} not measured."]

    notes = []
    skips = read(r, "gpu-tests-skips.txt").strip()
    if skips:
        notes.append("Gpu tests skipped (gpu-tests-skips.txt): " + "; ".join(skips.splitlines()[:6]) + (" …" if len(skips.splitlines()) > 6 else ""))
    failed_names = re.findall(r"^failed (\S+)", tests, re.M)
    if failed_names:
        notes.append("Gpu tests failed: " + ", ".join(failed_names[:8]) + (" …" if len(failed_names) > 8 else ""))
    brows = bench_rows(bench)
    if brows:
        sources = {}
        for row in brows:
            sources[row["source"]] = sources.get(row["source"], 0) + 1
        not_searched = sum(n for s, n in sources.items() if s not in ("cache", "exhaustive"))
        notes.append(f"ptx-vs-cudnn plans (ptx side): {', '.join(f'{n} {s}' for s, n in sorted(sources.items()))}" +
                     (f" — {not_searched} not from an exhaustive search (step 4 did not cache them), so those ratios are heuristic plans'" if not_searched else ""))
        for kind_name, goal in (("3x3", 0.6), ("1x1", 0.9), ("depthwise", 1.0)):
            behind = sorted((row for row in brows if row["kind"] == kind_name and row["ratio"] < goal), key=lambda row: row["ratio"])
            if behind:
                notes.append(f"ptx {kind_name} shapes under {goal}x ({len(behind)} of {sum(1 for row in brows if row['kind'] == kind_name)}), slowest first: " +
                             ", ".join(f"{row['shape']} {row['ratio']:.2f}x ({row['algorithm']} vs {row['peer_algorithm']})" for row in behind[:6]))
    disagree = re.search(r"error: (\d+) shape\(s\) disagree", bench)
    if disagree:
        notes.append(f"bench: {disagree[1]} shape(s) disagree between ptx and cudnn by more than 1e-4 (bench-ptx-vs-cudnn.txt)")
    behind = sorted((v, k) for k, v in rows.items() if v < 1.0)
    if behind and not on_cpu:
        notes.append(f"cudnn shapes behind PyTorch ({len(behind)} of {len(rows)}), slowest first: " + ", ".join(f"{k} {v:.2f}x" for v, k in behind[:10]))
    if notes:
        out += [""] + [f"- {n}" for n in notes]
    out += resnet50_evidence(read(r, "resnet50.txt"))
    summary = read(r, "summary.txt").strip()
    if summary:
        out += ["", "summary.txt of the run:", "", "```", summary, "```"]
    out += ["", END]
    return "\n".join(out) + "\n", kind is not None


def write_into(path, block, title):
    """Replaces the marked block in PATH, or (first time) the GPU part's opening up to its first subsection."""
    text = open(path).read()
    if BEGIN.split(" (")[0] in text and END in text:
        start = text.index(BEGIN.split(" (")[0])
        end = text.index(END) + len(END) + 1
        return text[:start] + block + text[end:]
    lines = text.splitlines(keepends=True)
    first = next((i for i, l in enumerate(lines) if l.startswith("# GPU benchmarks")), None)
    if first is None:
        raise SystemExit(f"gpu-run-report: {path} has no '# GPU benchmarks' part and no {END} marker to write into")
    last = next((i for i in range(first + 1, len(lines)) if lines[i].startswith(("# ", "## "))), len(lines))
    return "".join(lines[:first]) + f"{title}\n\n{block}\n" + "".join(lines[last:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="the results folder of a gpu-check.sh run (gpu-results.tar.gz unpacked)")
    ap.add_argument("--write", metavar="FILE", help="put the GPU part into FILE (docs/benchmarks.md) instead of printing it")
    ap.add_argument("--shapes-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "samples", "GpuConv.Cli", "shapes"))
    ap.add_argument("--rehearsal", action="store_true", help="the cpu backend stood in for cudnn and ptx (read from system.txt when it says so)")
    args = ap.parse_args()
    r = args.results
    # A mistyped folder would otherwise read as a run that measured nothing.
    if not os.path.isfile(os.path.join(r, "summary.txt")):
        sys.exit(f"gpu-run-report: {r} has no summary.txt: not the results folder of a gpu-check.sh run "
                 "(unpack gpu-results.tar.gz and pass its results/ folder)")
    block, not_gpu = report(r, args.shapes_dir, args.rehearsal)
    date = re.search(r"^date: (\S+)T", read(r, "system.txt"), re.M)
    # The GPU the run found (the device tool lends an H100 or an H200), not a fixed name; fakes and CPU runs name none.
    gpu = None if not_gpu else re.search(r"^\s*GPU 0: ([^,\n]+)", read(r, "devices.txt"), re.M)
    title = (f"# GPU benchmarks{' (' + gpu[1].strip() + ')' if gpu else ''}{' — ' + date[1] if date else ''}"
             f"{' — NOT A GPU RUN' if not_gpu else ''}")
    if args.write:
        new = write_into(args.write, block, title)
        with open(args.write, "w") as f:
            f.write(new)
        print(f"gpu-run-report: wrote the GPU part into {args.write}")
    else:
        print(title + "\n\n" + block, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
