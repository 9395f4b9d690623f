"""What build/resnet50_torch.py, build/mobilenetv2_torch.py and build/convnexttiny_torch.py share (standard library + torch only): the command line,
PyTorch's settings, BatchNorm folding, random parameters, and the timed runs with their float64 check and result line.

Settings: cudnn.benchmark = True, TF32 off (cudnn.allow_tf32 = False, cuda.matmul.allow_tf32 = False), NCHW float32.
What one timed run is, on the GPU (the same as GpuConv's samples/GpuConv.Networks: one upload, the network, one download):
  the input from pageable host memory to the device (x.to("cuda")), the forward pass, the logits back to pageable
  host memory (.cpu(), which waits for the stream). Timed two ways: host wall clock (time.perf_counter from before
  the upload to after the logits are on the host; what GpuConv's Stopwatch measures) and CUDA events recorded before
  the upload and after the download. `warmup` untimed runs first (cudnn.benchmark's search happens there; the first
  run's time is reported separately as "first"), then the median of `runs`.
Prints one line per batch, e.g.
  resnet50[torch]: batch 1 median 2.345 ms wall, 2.301 ms events, first 812.3 ms (device cuda NVIDIA H200, torch 2.11, ...)
The folded net is checked against the unfolded one in float64 on the CPU (max |error| / max |reference| over the
logits <= 1e-4, strict fp32): that would catch TF32 left on, or a bad fold. Exit status 1 when that check fails.
"""
import argparse, copy, statistics, sys, time

import torch
from torch import nn

TOLERANCE = 1e-4  # max |error| / max |reference| over the logits, fp32 against float64


def parse_args(script, doc):
    """The options both scripts take; exits with a usage message on bad values."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--batch", default="1", help="batch sizes, comma-separated (default 1)")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--seed", type=int, default=50)
    ap.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    args = ap.parse_args()
    args.batches = [int(b) for b in args.batch.split(",") if b.strip()]
    if not args.batches or min(args.batches) < 1 or args.runs < 1 or args.warmup < 0 or args.size < 32:
        sys.exit(f"{script}: --batch needs whole numbers >= 1, --runs >= 1, --warmup >= 0, --size >= 32")
    return args


def uniform(gen):
    """u(shape, lo, hi): uniform values from the seeded generator."""
    def u(shape, lo, hi):
        return torch.rand(shape, generator=gen, dtype=torch.float32) * (hi - lo) + lo
    return u


def randomize(model, gen):
    """He-uniform convolutions (variance 2/fan_in, fan_in per group), classifier uniform +-1/sqrt(fan_in), BatchNorm
    statistics and affine values random around identity (gamma 0.5-1.0, beta and mean +-0.1, variance 0.5-1.5)."""
    u = uniform(gen)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                bound = (6.0 / (m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1])) ** 0.5
                m.weight.copy_(u(m.weight.shape, -bound, bound))
            elif isinstance(m, nn.Linear):
                bound = 1 / m.in_features ** 0.5
                m.weight.copy_(u(m.weight.shape, -bound, bound))
                m.bias.copy_(u(m.bias.shape, -bound, bound))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(u(c, 0.5, 1.0)); m.bias.copy_(u(c, -0.1, 0.1))
                m.running_mean.copy_(u(c, -0.1, 0.1)); m.running_var.copy_(u(c, 0.5, 1.5))


def fold(conv, bn):
    """conv (no bias) followed by eval-mode BatchNorm -> one conv with bias: w * g/sqrt(v+eps), beta - mean*g/sqrt(v+eps)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                       groups=conv.groups, bias=True)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        folded.bias.copy_(bn.bias - bn.running_mean * scale)
    return folded


def run(key, title, reference, fold_model, args, gen, graph="BatchNorm folded"):
    """Times fold_model(deepcopy(reference)) as described above, prints the header and one line per batch; the exit status.
    reference: the randomized unfolded network (made double here for the check); gen: the generator that randomized it,
    which then draws the inputs; graph: what the header and result lines say of the timed graph's form."""
    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    model = fold_model(copy.deepcopy(reference)).eval().to(device)
    reference = reference.double()
    name = f" {torch.cuda.get_device_name(0)}" if device == "cuda" else ""
    where = (f"device {device}{name}, torch {torch.__version__}, cudnn {torch.backends.cudnn.version()}, "
             f"{graph}, cudnn.benchmark on, TF32 off, fp32 NCHW")
    print(f"{title} (torch.nn, {graph}): {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters; {where}", flush=True)

    failed = False
    for batch in args.batches:
        x = torch.rand((batch, 3, args.size, args.size), generator=gen) * 2 - 1   # pageable host memory, as GpuConv's float[]

        def once():
            """One timed run: upload, forward, download. Returns (wall ms, event ms or None) and the host logits."""
            if device == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                t0 = time.perf_counter()
                start.record()
                logits = model(x.to(device)).cpu()   # .cpu() into pageable memory waits for the stream
                end.record()
                end.synchronize()
                return (time.perf_counter() - t0) * 1e3, start.elapsed_time(end), logits
            t0 = time.perf_counter()
            logits = model(x.to(device)).cpu()
            return (time.perf_counter() - t0) * 1e3, None, logits

        with torch.inference_mode():
            first, _, logits = once()
            for _ in range(max(args.warmup - 1, 0)):
                once()
            timed = [once() for _ in range(args.runs)]
            expected = reference(x.double())
        wall = statistics.median(t[0] for t in timed)
        events = statistics.median(t[1] for t in timed) if device == "cuda" else None
        error = ((timed[-1][2].double() - expected).abs().max() / expected.abs().max()).item()
        ok = error <= TOLERANCE
        failed |= not ok
        print(f"{key}[torch]: batch {batch} median {wall:.3f} ms wall" + (f", {events:.3f} ms events" if events is not None else "") +
              f", first {first:.1f} ms, {args.runs} runs after {args.warmup} warm-up; vs unfolded float64 max rel error {error:.2e} "
              f"({'PASS' if ok else 'FAIL'}, tolerance {TOLERANCE:.0e}) ({where}, size {args.size})", flush=True)
    return 1 if failed else 0
