"""Loads a checkpoint saved by `npm run train -- --save` into a plain PyTorch GPT, scores a text with it,
and writes the weights back as safetensors, to show the checkpoint layout round-trips through PyTorch.

  python3 scripts/torch_gpt.py model.safetensors "TEXT" roundtrip.safetensors

Needs only torch (the safetensors format is read and written here with json and struct). The model is
GPT-2's pre-LayerNorm block as the engine builds it: LayerNorm eps from the config, causal attention
scaled by 1/sqrt(d_k), GELU in its tanh form (or ReLU), untied lm_head.
"""
import json
import math
import struct
import sys

import torch
import torch.nn.functional as F


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n :]
    tensors = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", name
        a, b = e["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(e["shape"])
    return tensors, meta


def write_safetensors(path, tensors, meta):
    header, offset, blobs = {"__metadata__": meta}, 0, []
    for name, t in tensors.items():
        b = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def forward(p, cfg, tokens):
    T = tokens.shape[1]
    C, H, eps = cfg["dModel"], cfg["nHead"], cfg["layerNormEps"]
    x = p["transformer.wte.weight"][tokens]
    if cfg["positionalEncoding"] == "learned":
        x = x + p["transformer.wpe.weight"][:T]
    else:
        pos = torch.arange(T, dtype=torch.float32)[:, None]
        i2 = (torch.arange(C) - torch.arange(C) % 2).float()
        angle = pos * torch.exp(-math.log(10000.0) * i2 / C)
        x = x + torch.where(torch.arange(C) % 2 == 0, torch.sin(angle), torch.cos(angle))
    ln = lambda x, n: F.layer_norm(x, (C,), p[n + ".weight"], p[n + ".bias"], eps)
    lin = lambda x, n: F.linear(x, p[n + ".weight"], p.get(n + ".bias"))
    act = (lambda v: F.gelu(v, approximate="tanh")) if cfg["activation"] == "gelu" else F.relu
    for l in range(cfg["nLayer"]):
        h = f"transformer.h.{l}"
        q, k, v = lin(ln(x, h + ".ln_1"), h + ".attn.c_attn").split(C, dim=2)
        heads = lambda t: t.view(t.shape[0], T, H, C // H).transpose(1, 2)
        y = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=True)
        x = x + lin(y.transpose(1, 2).reshape(x.shape), h + ".attn.c_proj")
        x = x + lin(act(lin(ln(x, h + ".ln_2"), h + ".mlp.c_fc")), h + ".mlp.c_proj")
    return F.linear(ln(x, "transformer.ln_f"), p["lm_head.weight"])


def main():
    path, text, out = sys.argv[1], sys.argv[2], sys.argv[3]
    p, meta = read_safetensors(path)
    cfg = json.loads(meta["model_config"])
    chars = json.loads(meta["tokenizer"])["chars"]
    ids = torch.tensor([[chars.index(c) for c in text]])
    logits = forward(p, cfg, ids[:, :-1])
    loss = F.cross_entropy(logits[0], ids[0, 1:])
    print(f"torch loss {loss.item():.6f} on {len(text) - 1} predictions; torch {torch.__version__}")
    write_safetensors(out, p, meta)
    print(f"wrote {out} ({len(p)} tensors)")


if __name__ == "__main__":
    main()
