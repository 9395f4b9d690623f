# Writes torch_hard_cases.json: torch 1.13's CPU hardsigmoid / hardswish and their gradients on chosen and random
# float32 values, as bits, so HardActivationTests can compare without PyTorch.
# Run with a Python that has torch and numpy: /usr/bin/python3 make_torch_cases.py
import json
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(17)
special = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -3.0, 3.0, -2.9999998, 2.9999998, -3.0000002, 3.0000002, 6.0, -6.0]
x = np.concatenate([np.array(special, dtype=np.float32), (rng.random(4000, dtype=np.float32) * 10 - 5),
                    rng.standard_normal(1000).astype(np.float32) * 50]).astype(np.float32)
dy = (rng.standard_normal(x.shape) * 3).astype(np.float32)
bits = lambda a: [int(b) for b in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]
out = dict(torch=torch.__version__, x=bits(x), dy=bits(dy))
for name, fn in (('hardsigmoid', F.hardsigmoid), ('hardswish', F.hardswish)):
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    y = fn(t)
    y.backward(torch.from_numpy(dy.copy()))
    out[name] = bits(y.detach().numpy())
    out[name + '_dx'] = bits(t.grad.numpy())
with open('torch_hard_cases.json', 'w') as f:
    json.dump(out, f, separators=(',', ':'))
print(len(x), 'values, torch', torch.__version__)
