# Writes torch_gelu_epilogue_cases.json: torch 1.13's conv2d + bias followed by F.gelu (approximate 'none' and 'tanh'),
# in float64 on float32 inputs (stored as bits), on ConvNeXt / ViT-like layers, so FusedGeluTorchTests can judge
# ForwardBiasActivation(Gelu / GeluTanh) (and ReferenceActivation) without PyTorch.
# Run with a Python that has torch and numpy: /usr/bin/python3 make_torch_gelu_epilogue_cases.py
import json
import numpy as np
import torch
import torch.nn.functional as F

CASES = [
    # name, activation, N, C, H, W, K, kernel, stride, pad, groups
    ("patchify 4x4/4 3-16 gelu", "Gelu", 1, 3, 16, 16, 16, 4, 4, 0, 1),
    ("depthwise 7x7 12 gelu", "Gelu", 2, 12, 9, 9, 12, 7, 1, 3, 12),
    ("expand 1x1 16-32 gelu tanh", "GeluTanh", 1, 16, 7, 7, 32, 1, 1, 0, 1),
    ("3x3 6-10 gelu tanh", "GeluTanh", 2, 6, 8, 8, 10, 3, 1, 1, 1),
]
APPROXIMATE = {"Gelu": "none", "GeluTanh": "tanh"}

rng = np.random.default_rng(20261217)
bits = lambda a: [int(b) for b in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]
out = []
for name, act, n, c, h, w, k, r, stride, pad, groups in CASES:
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = (rng.standard_normal((k, c // groups, r, r)) * 0.5).astype(np.float32)
    b = (rng.random(k) * 6 - 3).astype(np.float32)  # biases in ±3: the dip, both sides of |v| = 1 and the linear end
    y = F.gelu(F.conv2d(torch.from_numpy(x).double(), torch.from_numpy(wt).double(), torch.from_numpy(b).double(),
                        stride=stride, padding=pad, groups=groups), approximate=APPROXIMATE[act])
    out.append(dict(name=name, activation=act, kernel=r, stride=stride, pad=pad, groups=groups,
                    xShape=list(x.shape), wShape=list(wt.shape), yShape=list(y.shape),
                    x=bits(x), w=bits(wt), b=bits(b), y=y.flatten().tolist()))
with open('torch_gelu_epilogue_cases.json', 'w') as f:
    json.dump(dict(torch=torch.__version__, cases=out), f, separators=(',', ':'))
print(len(out), 'cases, torch', torch.__version__)
