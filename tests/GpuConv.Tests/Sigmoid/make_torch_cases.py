# Writes torch_sigmoid_cases.json: torch 1.13's CPU sigmoid and sigmoid_backward on chosen and random float32 values,
# as bits, so SigmoidTests can compare without PyTorch.
# Run with a Python that has torch and numpy: /usr/bin/python3 make_torch_cases.py
import json
import numpy as np
import torch

rng = np.random.default_rng(15)
special = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 30.0, 31.0, -87.0, -88.0, -89.0, -103.0, 16.0, -16.0, 1.0, -1.0]
x = np.concatenate([np.array(special, dtype=np.float32),
                    (rng.standard_normal(3000) * 6).astype(np.float32),
                    (rng.random(1000) * 200 - 100).astype(np.float32)]).astype(np.float32)
t = torch.from_numpy(x.copy()).requires_grad_(True)
y = torch.sigmoid(t)
dy = (rng.standard_normal(x.shape) * 3).astype(np.float32)
y.backward(torch.from_numpy(dy.copy()))
bits = lambda a: [int(b) for b in np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).ravel()]
with open('torch_sigmoid_cases.json', 'w') as f:
    json.dump(dict(torch=torch.__version__, x=bits(x), y=bits(y.detach().numpy()), dy=bits(dy), dx=bits(t.grad.numpy())), f, separators=(',', ':'))
print(len(x), 'values, torch', torch.__version__)
