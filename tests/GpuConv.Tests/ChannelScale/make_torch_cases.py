# Writes torch_channel_scale_cases.json: torch 1.13's x * s (s of shape [N, C, 1, ...], a squeeze-and-excitation
# block's scale) and its autograd gradients for x and s, as bits, so ChannelScaleTests can compare without PyTorch.
# Run with a Python that has torch and numpy: /usr/bin/python3 make_torch_cases.py
import json
import numpy as np
import torch

rng = np.random.default_rng(16)
bits = lambda a: [int(b) for b in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]
cases = []
for shape in [(2, 3, 7, 7), (1, 8, 5), (2, 4, 3, 4, 5), (3, 5), (1, 2, 23, 19)]:
    n, c = shape[0], shape[1]
    s_shape = (n, c) + (1,) * (len(shape) - 2)
    x = (rng.standard_normal(shape) * 2).astype(np.float32)
    s = rng.random(s_shape, dtype=np.float32)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    ts = torch.from_numpy(s.copy()).requires_grad_(True)
    y = tx * ts
    dy = rng.standard_normal(shape).astype(np.float32)
    y.backward(torch.from_numpy(dy.copy()))
    cases.append(dict(shape=list(shape), scale_shape=list(s_shape), x=bits(x), s=bits(s), y=bits(y.detach().numpy()),
                      dy=bits(dy), dx=bits(tx.grad.numpy()), ds=bits(ts.grad.numpy())))
with open('torch_channel_scale_cases.json', 'w') as f:
    json.dump(dict(torch=torch.__version__, cases=cases), f, separators=(',', ':'))
print(len(cases), 'cases, torch', torch.__version__)
