#!/usr/bin/env python3
"""ResNet-50 inference in PyTorch, timed the way samples/GpuConv.ResNet50 times GpuConv: the peer of gpu-check.sh's
`resnet50` step (standard library + torch only; no torchvision: the network is built here from torch.nn).

  usage: resnet50_torch.py [--batch 1[,8]] [--size 224] [--classes 1000] [--runs 30] [--warmup 5] [--device auto|cuda|cpu] [--seed 50]

The network: stem 7x7/2 conv (64) + ReLU, max pool 3x3/2 pad 1, bottlenecks [3, 4, 6, 3] (widths 64/128/256/512,
expansion 4, stride on the 3x3 as in ResNet v1.5, 1x1 projection on each stage's first block), global average pool,
fc 2048 -> classes. Random weights (He uniform) and random BatchNorm statistics; eval mode. BatchNorm is FOLDED into
each convolution's weight and bias before timing (as GpuConv's sample does), so both sides run the same graph:
conv + bias, ReLU, residual add, ReLU. The folded net is checked against the unfolded one in float64 on the CPU
(max |error| / max |reference| over the logits <= 1e-4, strict fp32): that would catch TF32 left on, or a bad fold.

Settings: cudnn.benchmark = True, TF32 off (cudnn.allow_tf32 = False, cuda.matmul.allow_tf32 = False), NCHW float32.
What one timed run is, on the GPU (the same as GpuConv's: one upload, the network, one download):
  the input from pageable host memory to the device (x.to("cuda")), the forward pass, the logits back to pageable
  host memory (.cpu(), which waits for the stream). Timed two ways: host wall clock (time.perf_counter from before
  the upload to after the logits are on the host; what GpuConv's Stopwatch measures) and CUDA events recorded before
  the upload and after the download. `warmup` untimed runs first (cudnn.benchmark's search happens there; the first
  run's time is reported separately as "first"), then the median of `runs`.
Prints one line per batch, e.g.
  resnet50[torch]: batch 1 median 2.345 ms wall, 2.301 ms events, first 812.3 ms (device cuda NVIDIA H200, torch 2.11, ...)
and exits 1 when the float64 check fails. Without CUDA it runs on the CPU (a rehearsal; its times say "device cpu").
"""
import argparse, statistics, sys, time

import torch
from torch import nn

TOLERANCE = 1e-4  # max |error| / max |reference| over the logits, fp32 against float64


class Bottleneck(nn.Module):
    """relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + skip), skip = x or bn(proj(x)); stride on the 3x3."""

    def __init__(self, in_c, width, stride):
        super().__init__()
        out_c = width * 4
        self.conv1, self.bn1 = nn.Conv2d(in_c, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, out_c, 1, bias=False), nn.BatchNorm2d(out_c)
        self.proj = None
        if stride != 1 or in_c != out_c:
            self.proj = nn.Sequential(nn.Conv2d(in_c, out_c, 1, stride, bias=False), nn.BatchNorm2d(out_c))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        h = self.relu(self.bn1(self.conv1(x)))
        h = self.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        skip = x if self.proj is None else self.proj(x)
        return self.relu(h + skip)


class ResNet50(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        blocks, in_c = [], 64
        for width, count, first_stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for i in range(count):
                blocks.append(Bottleneck(in_c, width, first_stride if i == 0 else 1))
                in_c = width * 4
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_c, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


def randomize(model, gen):
    """He-uniform convolutions; BatchNorm statistics and affine values random around identity, each block's last
    BatchNorm scaled down (gamma 0.2-0.5) so the residual sum stays O(1) through 16 blocks (as the sample's model)."""
    def u(shape, lo, hi):
        return torch.rand(shape, generator=gen, dtype=torch.float32) * (hi - lo) + lo
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                bound = (6.0 / (m.in_channels * m.kernel_size[0] * m.kernel_size[1])) ** 0.5
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
        for b in model.blocks:
            b.bn3.weight.copy_(u(b.bn3.num_features, 0.2, 0.5))


def fold(conv, bn):
    """conv (no bias) followed by eval-mode BatchNorm -> one conv with bias: w * g/sqrt(v+eps), beta - mean*g/sqrt(v+eps)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=True)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        folded.bias.copy_(bn.bias - bn.running_mean * scale)
    return folded


def folded_copy(model):
    """The same network with every BatchNorm folded away (Identity in its place)."""
    model.stem[0], model.stem[1] = fold(model.stem[0], model.stem[1]), nn.Identity()
    for b in model.blocks:
        b.conv1, b.bn1 = fold(b.conv1, b.bn1), nn.Identity()
        b.conv2, b.bn2 = fold(b.conv2, b.bn2), nn.Identity()
        b.conv3, b.bn3 = fold(b.conv3, b.bn3), nn.Identity()
        if b.proj is not None:
            b.proj = nn.Sequential(fold(b.proj[0], b.proj[1]))
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", default="1", help="batch sizes, comma-separated (default 1)")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--seed", type=int, default=50)
    ap.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    args = ap.parse_args()
    batches = [int(b) for b in args.batch.split(",") if b.strip()]
    if not batches or min(batches) < 1 or args.runs < 1 or args.warmup < 0 or args.size < 32:
        sys.exit("resnet50_torch.py: --batch needs whole numbers >= 1, --runs >= 1, --warmup >= 0, --size >= 32")
    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False

    gen = torch.Generator().manual_seed(args.seed)
    reference = ResNet50(args.classes).eval()
    randomize(reference, gen)
    import copy
    model = folded_copy(copy.deepcopy(reference)).eval().to(device)
    reference = reference.double()
    name = f" {torch.cuda.get_device_name(0)}" if device == "cuda" else ""
    where = (f"device {device}{name}, torch {torch.__version__}, cudnn {torch.backends.cudnn.version()}, "
             f"BatchNorm folded, cudnn.benchmark on, TF32 off, fp32 NCHW")
    print(f"ResNet-50 (torch.nn, BatchNorm folded into conv + bias): {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters; {where}", flush=True)

    failed = False
    for batch in batches:
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
        print(f"resnet50[torch]: batch {batch} median {wall:.3f} ms wall" + (f", {events:.3f} ms events" if events is not None else "") +
              f", first {first:.1f} ms, {args.runs} runs after {args.warmup} warm-up; vs unfolded float64 max rel error {error:.2e} "
              f"({'PASS' if ok else 'FAIL'}, tolerance {TOLERANCE:.0e}) ({where}, size {args.size})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
