# Writes torch_leaky_relu_cases.json: torch 1.13's CPU leaky_relu and its gradient at several negative slopes, and
# torch.mul with its gradients, on chosen and random float32 values, as bits, so LeakyReluTests can compare without PyTorch.
# Run with a Python that has torch and numpy: /usr/bin/python3 make_torch_cases.py
import json
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(23)
special = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 3e38, -3e38, 1.0, -1.0]
x = np.concatenate([np.array(special, dtype=np.float32), (rng.random(3000, dtype=np.float32) * 10 - 5),
                    rng.standard_normal(1000).astype(np.float32) * 50]).astype(np.float32)
dy = (rng.standard_normal(x.shape) * 3).astype(np.float32)
b = (rng.standard_normal(x.shape) * 2).astype(np.float32)
bits = lambda a: [int(v) for v in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]
out = dict(torch=torch.__version__, x=bits(x), dy=bits(dy), b=bits(b), slopes=[], y=[], dx=[])
for slope in (0.01, 0.1, 0.2, -0.3, 1.5):
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    y = F.leaky_relu(t, slope)
    y.backward(torch.from_numpy(dy.copy()))
    out['slopes'].append(int(np.float32(slope).view(np.uint32)))
    out['y'].append(bits(y.detach().numpy()))
    out['dx'].append(bits(t.grad.numpy()))
ta = torch.from_numpy(x.copy()).requires_grad_(True)
tb = torch.from_numpy(b.copy()).requires_grad_(True)
p = torch.mul(ta, tb)
p.backward(torch.from_numpy(dy.copy()))
out['mul'] = bits(p.detach().numpy())
out['mul_da'] = bits(ta.grad.numpy())
out['mul_db'] = bits(tb.grad.numpy())
with open('torch_leaky_relu_cases.json', 'w') as f:
    json.dump(out, f, separators=(',', ':'))
print(len(x), 'values, torch', torch.__version__)
