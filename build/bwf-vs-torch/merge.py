"""Merges run.sh's passes: per layer the median over passes of each time, then ratios and geomeans (markdown).
Times are ms; "min" columns are the fastest single call over all passes (the machine's noise floor)."""
import glob, math, statistics, sys

out = sys.argv[1]


def load(pattern):
    rows = {}
    for f in sorted(glob.glob(f"{out}/{pattern}")):
        for line in open(f):
            cells = line.rstrip("\n").split("\t")
            mins = [float(v) for v in cells[-1][4:].split(",")] if cells[-1].startswith("min:") else []
            cells = [c for c in cells if not c.startswith("min:")]
            rows.setdefault(cells[0], []).append((cells[1:], mins))
    return rows


ours, base = load("ours.*.tsv"), load("base.*.tsv")
torch = {}
for f in sorted(glob.glob(f"{out}/torch.*.tsv")):
    for line in open(f):
        key, ms, *rest = line.rstrip("\n").split("\t")
        torch.setdefault(key, []).append((float(ms), float(rest[0]) if rest else float(ms)))
med = statistics.median
head = "| layer | forward | fwd ms | backward-filter | bwf ms |"
if base: head += " before ms |"
head += " torch ms | bwf / fwd |"
if base: head += " before / fwd | before / bwf |"
head += " bwf / torch | min bwf / min fwd | min bwf / min torch | others |"
print(head)
print("|" + "---|" * (head.count("|") - 1))
cols = {k: [] for k in ("fwd", "base", "torch", "speedup", "minfwd", "mintorch")}
for key, runs in ours.items():
    cells = [r[0] for r in runs]
    fwd, bwf = med(float(c[2]) for c in cells), med(float(c[4]) for c in cells)
    mfwd, mbwf = min(r[1][0] for r in runs), min(r[1][1] for r in runs)
    others = " ".join(f"{cells[0][j]} {med(float(c[j + 1]) for c in cells):.3f}" for j in range(5, len(cells[0]), 2))
    t = med(v[0] for v in torch[key]) if key in torch else float("nan")
    mt = min(v[1] for v in torch[key]) if key in torch else float("nan")
    row = f"| {cells[0][0]} {key} | {cells[0][1]} | {fwd:.3f} | {cells[0][3]} | {bwf:.3f} |"
    if base:
        b = med(float(r[0][4]) for r in base[key])
        row += f" {b:.3f} |"
    row += f" {t:.3f} | {bwf / fwd:.2f} |"
    if base:
        row += f" {b / fwd:.2f} | {b / bwf:.2f} |"
        cols["base"].append(b / fwd); cols["speedup"].append(b / bwf)
    row += f" {bwf / t:.2f} | {mbwf / mfwd:.2f} | {mbwf / mt:.2f} | {others} |"
    cols["fwd"].append(bwf / fwd); cols["torch"].append(bwf / t); cols["minfwd"].append(mbwf / mfwd); cols["mintorch"].append(mbwf / mt)
    print(row)
g = lambda v: math.exp(sum(map(math.log, v)) / len(v)) if v else float("nan")
print(f"\ngeomeans over {len(cols['fwd'])} layers: bwf / fwd {g(cols['fwd']):.3f}"
      + (f", before / fwd {g(cols['base']):.3f}, before / bwf {g(cols['speedup']):.3f}" if base else "")
      + f", bwf / torch {g(cols['torch']):.3f}; min bwf / min fwd {g(cols['minfwd']):.3f}, min bwf / min torch {g(cols['mintorch']):.3f}"
      + f"; above 1.2x fwd: {sum(r > 1.2 for r in cols['fwd'])}; slower than torch: {sum(r > 1 for r in cols['torch'])}")
