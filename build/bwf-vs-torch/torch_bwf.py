"""PyTorch CPU (oneDNN) weight gradient (or with --op data the input gradient, with --op forward F.conv2d) per unique layer of
a shape CSV: aten.convolution_backward with only that gradient asked for, the same thread count, warm-up, median over the single calls of all rounds (each round
enough calls for ~20 ms, at most 50). Prints: key<TAB>median ms<TAB>fastest call ms. Usage: python3 torch_bwf.py <csv> <batch> <threads> <rounds> [--only substring] [--op filter|data|forward]"""
import csv, statistics, sys, time
import torch

path, batch, threads, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
op = sys.argv[sys.argv.index("--op") + 1] if "--op" in sys.argv else "filter"
data, forward = op == "data", op == "forward"
mask, which = ([True, False, False], 0) if data else ([False, True, False], 1)
torch.set_num_threads(threads)
torch.manual_seed(0)
seen = set()
with open(path) as fh:
    for row in csv.DictReader(fh):
        v = {k: int(row[k]) for k in row if k != "name"}
        c, h, w, k, r, s = v["c"], v["h"], v["w"], v["k"], v["r"], v["s"]
        st, pd, dl, g = (v["stride_h"], v["stride_w"]), (v["pad_h"], v["pad_w"]), (v["dil_h"], v["dil_w"]), v["groups"]
        key = f"{c}x{h}x{w}->{k} {r}x{s}/{st[0]} p{pd[0]} d{dl[0]} g{g}"
        if key in seen or (only and only not in key and only not in row["name"]):
            continue
        seen.add(key)
        x = torch.rand(batch, c, h, w) * 2 - 1
        wt = torch.rand(k, c // g, r, s) * 2 - 1
        y = torch.nn.functional.conv2d(x, wt, None, st, pd, dl, g)
        dy = torch.rand_like(y) * 2 - 1

        def run():
            if forward:
                return torch.nn.functional.conv2d(x, wt, None, st, pd, dl, g)
            return torch.ops.aten.convolution_backward(dy, x, wt, None, st, pd, dl, False, [0, 0], g, mask)[which]

        run()
        t0 = time.perf_counter(); run(); once = (time.perf_counter() - t0) * 1e3
        reps = max(1, min(50, int(20 / max(once, 1e-3))))
        samples = []
        for rnd in range(-2, rounds):
            for _ in range(reps):
                t0 = time.perf_counter()
                run()
                if rnd >= 0:
                    samples.append((time.perf_counter() - t0) * 1e3)
        print(f"{key}\t{statistics.median(samples):.4f}\t{min(samples):.4f}", flush=True)
