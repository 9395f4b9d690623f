#!/usr/bin/env python3
"""Expected values for TorchOracleTests, computed by PyTorch (CPU, float64).

Run with Debian's python3-torch (1.13): /usr/bin/python3 generate.py > cases.json
Each case: a convolution with a different stride, dilation and (asymmetric) padding per spatial
dimension; inputs are float32 values (stored exactly), expected y, dx, dw computed in float64.
Asymmetric padding is applied with F.pad before an unpadded conv (torch's conv takes symmetric
padding only). dx and dw are the gradients of sum(y * dy), i.e. backward-data and backward-filter.
"""
import json
import torch
import torch.nn.functional as F

CASES = [
    # name, N, C, input spatial, K, kernel, stride, dilation, pad begin, pad end, groups
    ("1d_grouped",           2, 4, [13],       6, [3],       [2],       [2],       [2],       [1],       2),
    ("2d_mixed",             1, 3, [9, 8],     4, [3, 2],    [2, 1],    [1, 2],    [1, 0],    [0, 2],    1),
    ("2d_grouped",           1, 4, [7, 9],     6, [3, 3],    [1, 3],    [2, 1],    [2, 0],    [1, 1],    2),
    ("3d_mixed",             1, 2, [7, 6, 8],  3, [2, 3, 2], [1, 2, 3], [2, 1, 1], [0, 1, 2], [1, 0, 1], 1),
    ("3d_depthwise",         2, 3, [5, 6, 7],  3, [3, 2, 2], [2, 1, 2], [1, 2, 1], [1, 1, 0], [0, 1, 1], 3),
    ("3d_strides_3_1_2",     1, 2, [9, 5, 7],  2, [3, 1, 2], [3, 1, 2], [1, 1, 2], [1, 0, 0], [2, 0, 1], 1),
]

def conv(rank):
    return {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[rank]

def main():
    gen = torch.Generator().manual_seed(20261204)
    out = []
    for name, n, c, spatial, k, kernel, stride, dilation, pb, pe, groups in CASES:
        rank = len(spatial)
        x = torch.randn([n, c] + spatial, generator=gen).float().double().requires_grad_()
        w = torch.randn([k, c // groups] + kernel, generator=gen).float().double().requires_grad_()
        pads = []
        for d in reversed(range(rank)):   # F.pad lists the last dimension first
            pads += [pb[d], pe[d]]
        y = conv(rank)(F.pad(x, pads), w, stride=stride, dilation=dilation, groups=groups)
        dy = torch.randn(y.shape, generator=gen).float().double()
        dx, dw = torch.autograd.grad(y, [x, w], grad_outputs=dy)
        out.append({
            "name": name, "kernel": kernel, "stride": stride, "dilation": dilation,
            "padBegin": pb, "padEnd": pe, "groups": groups,
            "xShape": list(x.shape), "wShape": list(w.shape), "yShape": list(y.shape),
            "x": x.detach().flatten().tolist(), "w": w.detach().flatten().tolist(), "dy": dy.flatten().tolist(),
            "y": y.detach().flatten().tolist(), "dx": dx.flatten().tolist(), "dw": dw.flatten().tolist(),
        })
    print(json.dumps({"generator": f"generate.py, torch {torch.__version__}", "cases": out}))

main()
