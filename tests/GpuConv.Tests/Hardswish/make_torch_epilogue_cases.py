# Writes torch_epilogue_cases.json: torch 1.13's conv2d + bias followed by F.hardswish / torch.sigmoid / F.hardsigmoid,
# in float64 on float32 inputs (stored as bits), on MobileNetV3-like layers, so FusedHardswishSigmoidTorchTests can judge
# ForwardBiasActivation (and ReferenceActivation) without PyTorch.
# Run with a Python that has torch and numpy: /usr/bin/python3 make_torch_epilogue_cases.py
import json
import numpy as np
import torch
import torch.nn.functional as F

CASES = [
    # name, activation, N, C, H, W, K, kernel, stride, pad, groups
    ("expand 1x1 16-24 hardswish", "Hardswish", 1, 16, 9, 9, 24, 1, 1, 0, 1),
    ("depthwise 3x3/2 12 hardswish", "Hardswish", 2, 12, 11, 11, 12, 3, 2, 1, 12),
    ("3x3 6-10 sigmoid", "Sigmoid", 1, 6, 7, 7, 10, 3, 1, 1, 1),
    ("SE gate 1x1 8-16 hardsigmoid", "Hardsigmoid", 2, 8, 1, 1, 16, 1, 1, 0, 1),
]
ACT = {"Hardswish": F.hardswish, "Sigmoid": torch.sigmoid, "Hardsigmoid": F.hardsigmoid}

rng = np.random.default_rng(20261206)
bits = lambda a: [int(b) for b in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]
out = []
for name, act, n, c, h, w, k, r, stride, pad, groups in CASES:
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = (rng.standard_normal((k, c // groups, r, r)) * 0.6).astype(np.float32)
    b = (rng.random(k) * 8 - 4).astype(np.float32)  # biases in ±4: both ends of the ±3 clamp are reached
    y = ACT[act](F.conv2d(torch.from_numpy(x).double(), torch.from_numpy(wt).double(), torch.from_numpy(b).double(),
                          stride=stride, padding=pad, groups=groups))
    out.append(dict(name=name, activation=act, kernel=r, stride=stride, pad=pad, groups=groups,
                    xShape=list(x.shape), wShape=list(wt.shape), yShape=list(y.shape),
                    x=bits(x), w=bits(wt), b=bits(b), y=y.flatten().tolist()))
with open('torch_epilogue_cases.json', 'w') as f:
    json.dump(dict(torch=torch.__version__, cases=out), f, separators=(',', ':'))
print(len(out), 'cases, torch', torch.__version__)
