# Writes torch_tanh_cases.json: torch 1.13's CPU tanh and its gradient (autograd: tanh_backward(dy, y)) on chosen and
# random float32 values, as bits, so TanhTests can compare without PyTorch.
# Run with a Python that has torch and numpy: /usr/bin/python3 make_torch_cases.py
import json
import numpy as np
import torch

rng = np.random.default_rng(29)
special = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 1e-20, 0.625, -0.625, 0.62499994, 9.0, -9.0, 15.0, 16.0, 3e38]
x = np.concatenate([np.array(special, dtype=np.float32), (rng.random(3000, dtype=np.float32) * 2 - 1),
                    rng.standard_normal(1000).astype(np.float32) * 4]).astype(np.float32)
dy = (rng.standard_normal(x.shape) * 3).astype(np.float32)
bits = lambda a: [int(v) for v in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]
t = torch.from_numpy(x.copy()).requires_grad_(True)
y = torch.tanh(t)
y.backward(torch.from_numpy(dy.copy()))
out = dict(torch=torch.__version__, x=bits(x), dy=bits(dy), tanh=bits(y.detach().numpy()), tanh_dx=bits(t.grad.numpy()))
with open('torch_tanh_cases.json', 'w') as f:
    json.dump(out, f, separators=(',', ':'))
print(len(x), 'values, torch', torch.__version__)
