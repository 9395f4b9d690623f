#!/usr/bin/python3
"""GpuConv's CPU backend on AVX2 against PyTorch's CPU convolution (oneDNN) restricted to AVX2.

GpuConv runs with AVX-512 switched off in the .NET runtime (DOTNET_EnableAVX512F=0, DOTNET_EnableAVX512=0:
the JIT then reports no AVX-512, as on an AVX2 + FMA laptop); oneDNN is capped with ONEDNN_MAX_CPU_ISA=AVX2
(and DNNL_MAX_CPU_ISA for older builds). ONNX Runtime's MLAS ignores both switches, so it is no AVX2 peer.

Each round runs `gpuconv bench --backend cpu --format csv` on the whole set (one process, median of its
--repeat runs per layer), then torch on every layer two ways (NCHW fp32 in and out, bias, no grad, warm-up,
median of --repeat runs): F.conv2d as dispatched and oneDNN forced (see conv_of); the peer's time is the
faster of the two; the rounds alternate so a burst of load from other processes on
a shared machine hits both sides, and the table reports per layer the fastest round's median (on a
shared two-core machine a round can be many times slower on either side when another process holds a
core: oneDNN's OpenMP threads then wait at barriers). Ratio =
peer ms / GpuConv ms (> 1: GpuConv faster); geomean over the layers. Prints oneDNN's ISA and the
implementations it reported (from ONEDNN_VERBOSE during one untimed pass) so the cap can be checked.

Usage: /usr/bin/python3 build/bench-avx2-vs-torch.py --shapes resnet50 [--shapes mobilenet_v2] [--threads 2]
    [--rounds 5] [--repeat 10] [--gpuconv "dotnet samples/GpuConv.Cli/bin/Release/net10.0/GpuConv.Cli.dll"]
    [--avx512] (GpuConv with AVX-512 left on, for context; torch stays capped to AVX2)
    [--baseline "dotnet /path/to/older/GpuConv.Cli.dll"] (an older build in the same rounds: a 'before' column)
"""
import argparse, collections, csv, io, math, os, shlex, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES_DIR = os.path.join(ROOT, "samples", "GpuConv.Cli", "shapes")


def torch_env():
    """The cap must be in the environment before torch (and oneDNN) load: re-exec once with it set."""
    if os.environ.get("ONEDNN_MAX_CPU_ISA") != "AVX2":
        env = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX2", DNNL_MAX_CPU_ISA="AVX2")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


def load_rows(name):
    path = name if name.endswith(".csv") else os.path.join(SHAPES_DIR, name + ".csv")
    with open(path) as f:
        return [r for r in csv.DictReader(l for l in f if l.strip() and not l.startswith("#"))]


def ours(args, shapes, avx512, gpuconv):
    env = dict(os.environ)
    if not avx512:
        env.update(DOTNET_EnableAVX512F="0", DOTNET_EnableAVX512="0")
    cmd = shlex.split(gpuconv) + ["bench", "--backend", "cpu", "--shapes", shapes, "--threads", str(args.threads),
                                       "--format", "csv", "--repeat", str(args.repeat), "--warmup", "3"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"gpuconv bench failed ({p.returncode}):\n{p.stderr}")
    lines = [l for l in p.stdout.splitlines() if "," in l]
    start = next(i for i, l in enumerate(lines) if l.startswith("name,"))
    return {r["name"]: (float(r["median_ms"]), r["algorithm"]) for r in csv.DictReader(io.StringIO("\n".join(lines[start:])))}


def conv_of(row, check=True):
    """Two ways torch runs the layer: F.conv2d as dispatched (torch 1.13 sends a 1x1 on a small input, under
    20480 values at batch 1, to its own im2col + BLAS path, not oneDNN), and oneDNN forced (a to_mkldnn
    module: weights reordered once, x reordered in and y out on every call, NCHW to NCHW like ours)."""
    import torch
    import torch.nn.functional as F
    import torch.utils.mkldnn
    n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, g = (int(row[f]) for f in
        ("n", "c", "h", "w", "k", "r", "s", "stride_h", "stride_w", "pad_h", "pad_w", "dil_h", "dil_w", "groups"))
    gen = torch.Generator().manual_seed(17)
    x = torch.randn(n, c, h, w, generator=gen)
    wt = torch.randn(k, c // g, r, s, generator=gen)
    b = torch.randn(k, generator=gen)
    module = torch.nn.Conv2d(c, k, (r, s), stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=g).eval()
    with torch.no_grad():
        module.weight.copy_(wt)
        module.bias.copy_(b)
    onednn = torch.utils.mkldnn.to_mkldnn(module)
    dispatched = lambda: F.conv2d(x, wt, b, stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=g)
    forced = lambda: onednn(x.to_mkldnn()).to_dense()
    if check:
        with torch.no_grad():
            a, o = dispatched(), forced()
            if not torch.allclose(a, o, rtol=1e-3, atol=1e-3 * float(a.abs().max())):
                sys.exit(f"{row['name']}: torch's two paths disagree")
    return dispatched, forced


def torch_ms(f, repeat):
    for _ in range(3):
        f()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def onednn_report(shapes):
    """One untimed pass of every layer (oneDNN forced) in a child with ONEDNN_VERBOSE=1: the ISA line and the convolution implementations."""
    env = dict(os.environ, ONEDNN_VERBOSE="1", DNNL_VERBOSE="1")
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--shapes", shapes, "--verbose-pass"], env=env, capture_output=True, text=True)
    lines = p.stdout.splitlines()
    isa = sorted({l.split(",", 3)[3] for l in lines if ",info,cpu,isa:" in l})
    impls = collections.Counter(l.split(",")[4] + " " + l.split(",")[8].split(":")[-1] for l in lines if ",exec,cpu,convolution," in l)
    return isa, impls


def main():
    torch_env()
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", action="append", required=True, help="a set name (resnet50, mobilenet_v2, ...) or a 2-d CSV; repeatable")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--avx512", action="store_true", help="GpuConv with AVX-512 on (context only)")
    ap.add_argument("--gpuconv", default="dotnet " + os.path.join(ROOT, "samples/GpuConv.Cli/bin/Release/net10.0/GpuConv.Cli.dll"))
    ap.add_argument("--baseline", help="another GpuConv build's command (e.g. the commit before): run in every round too, alternating, as a 'before' column")
    ap.add_argument("--verbose-pass", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    if args.verbose_pass:
        with torch.no_grad():
            for r in load_rows(args.shapes[0]):
                conv_of(r, check=False)[1]()   # one forced (oneDNN) call per layer: the counts are layers
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, ONEDNN_MAX_CPU_ISA={os.environ['ONEDNN_MAX_CPU_ISA']}; "
          f"GpuConv cpu backend, {args.threads} threads, AVX-512 {'on' if args.avx512 else 'off (DOTNET_EnableAVX512F=0)'}; "
          f"{args.rounds} alternating rounds, median of {args.repeat} runs per round, fastest round per layer; load average before {os.getloadavg()}")
    for shapes in args.shapes:
        rows = load_rows(shapes)
        isa, impls = onednn_report(shapes)
        print(f"\n== {shapes}: oneDNN {'; '.join(isa) or '(no ISA line: ONEDNN_VERBOSE not honoured?)'}")
        print("   oneDNN implementations: " + ", ".join(f"{k} x{v}" for k, v in impls.most_common()))
        convs = [conv_of(r) for r in rows]
        ours_rounds, torch_rounds, onednn_rounds, algos = collections.defaultdict(list), collections.defaultdict(list), collections.defaultdict(list), {}
        base_rounds, base_algos = collections.defaultdict(list), {}
        with torch.no_grad():
            for round in range(args.rounds):
                # The builds alternate which goes first.
                builds = [(args.gpuconv, ours_rounds, algos)] + ([(args.baseline, base_rounds, base_algos)] if args.baseline else [])
                for gpuconv, times, names in (builds if round % 2 == 0 else builds[::-1]):
                    for name, (ms, algo) in ours(args, shapes, args.avx512, gpuconv).items():
                        times[name].append(ms)
                        names[name] = algo
                for r, (dispatched, forced) in zip(rows, convs):
                    torch_rounds[r["name"]].append(torch_ms(dispatched, args.repeat))
                    onednn_rounds[r["name"]].append(torch_ms(forced, args.repeat))
        before = f"{'before':>20} {'ms':>8} {'ratio':>6} " if args.baseline else ""
        print(f"{'layer':26} {before}{'algorithm':20} {'ours ms':>9} {'F.conv2d':>9} {'oneDNN':>9} {'ratio':>6}")
        logs, total_ours, total_torch, dispatched_wins, base_logs, total_base = [], 0.0, 0.0, 0, [], 0.0
        for r in rows:
            name = r["name"]
            o, td, tf = min(ours_rounds[name]), min(torch_rounds[name]), min(onednn_rounds[name])
            t = min(td, tf)   # the peer: torch's faster way
            dispatched_wins += td < tf
            logs.append(math.log(t / o))
            total_ours += o
            total_torch += t
            cells = ""
            if args.baseline:
                ob = min(base_rounds[name])
                base_logs.append(math.log(t / ob))
                total_base += ob
                cells = f"{base_algos[name]:>20} {ob:8.4f} {t / ob:6.2f} "
            print(f"{name:26} {cells}{algos[name]:20} {o:9.4f} {td:9.4f} {tf:9.4f} {t / o:6.2f}")
        print(f"{shapes}: geomean torch/ours = {math.exp(sum(logs) / len(logs)):.3f} over {len(logs)} layers; "
              f"sum ours {total_ours:.2f} ms, torch {total_torch:.2f} ms (F.conv2d faster than forced oneDNN on {dispatched_wins} layers); "
              f"load average after {os.getloadavg()}")
        if args.baseline:
            print(f"{shapes}: baseline (same rounds) geomean peer/ours = {math.exp(sum(base_logs) / len(base_logs)):.3f}, sum {total_base:.2f} ms")


if __name__ == "__main__":
    main()
