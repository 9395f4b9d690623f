"""Merges run.sh's passes: per layer the median over passes of each time, then ratios and geomeans (markdown)."""
import glob, math, statistics, sys

out = sys.argv[1]
ours, torch = {}, {}
for f in sorted(glob.glob(f"{out}/ours.*.tsv")):
    for line in open(f):
        cells = [c for c in line.rstrip("\n").split("\t") if not c.startswith("min:")]
        ours.setdefault(cells[0], []).append(cells[1:])
for f in sorted(glob.glob(f"{out}/torch.*.tsv")):
    for line in open(f):
        key, ms = line.rstrip("\n").split("\t")
        torch.setdefault(key, []).append(float(ms))
med = statistics.median
print("| layer | first name | forward | ms | backward-filter | ms | torch bwf ms | bwf / fwd | bwf / torch | others |")
print("|---|---|---|---:|---|---:|---:|---:|---:|---|")
r_fwd, r_torch = [], []
for key, runs in ours.items():
    fwd = med(float(r[2]) for r in runs)
    bwf = med(float(r[4]) for r in runs)
    others = " ".join(f"{runs[0][j]} {med(float(r[j + 1]) for r in runs):.3f}" for j in range(5, len(runs[0]), 2))
    t = med(torch[key]) if key in torch else float("nan")
    r_fwd.append(bwf / fwd); r_torch.append(bwf / t)
    print(f"| {key} | {runs[0][0]} | {runs[0][1]} | {fwd:.3f} | {runs[0][3]} | {bwf:.3f} | {t:.3f} | {bwf / fwd:.2f} | {bwf / t:.2f} | {others} |")
g = lambda v: math.exp(sum(map(math.log, v)) / len(v))
print(f"\ngeomean bwf / fwd {g(r_fwd):.3f}, bwf / torch {g(r_torch):.3f} over {len(r_fwd)} layers; "
      f"above 1.2x fwd: {sum(r > 1.2 for r in r_fwd)}; slower than torch: {sum(r > 1 for r in r_torch)}")
