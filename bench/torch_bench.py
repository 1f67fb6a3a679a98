"""The PyTorch peer of `npm run bench`, for the GPU machine (python3 + torch + CUDA; no other package).

  python3 bench/torch_bench.py [--sections kernels,train] [--sizes 1024,2048,4096,8192]
                               [--models d256,d1024,d2048,small] [--precisions fp32,fp16]

Prints one JSON object per line:
  kernels  cuBLAS SGEMM with TF32 off (the same three layouts as the engine's f32 rows: X·Wᵀ, ∇Y·W, ∇Yᵀ·X),
           cuBLAS FP16 tensor cores (f32 accumulation) and INT8 tensor cores (torch._int_mm, i32
           accumulation), n×n×n, TFLOP/s (TOP/s for INT8); each result checked against float64 on
           sampled entries before it is timed; timed with CUDA events around many launches, median of
           repeats.
  train    PyTorch-eager training of the same GPT as src/bench/train.ts (GPT-2 layout: pre-LN, GELU tanh,
           learned positions, causal attention by scaled_dot_product_attention, untied lm_head without
           bias, AdamW with decoupled decay on matrices and embeddings, global-norm clip 1.0), tokens/s
           and steps/s, peak GPU memory. fp32 runs with TF32 off, like the engine's fp32 kernels; fp16 is
           autocast with a GradScaler (PyTorch's usual mixed precision, not the engine's fp16 scheme).
The model table must stay equal to TRAIN_MODELS in src/bench/train.ts.
"""
import argparse
import gc
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# name: (layers, d_model, heads, d_ff, context, batch) -- as TRAIN_MODELS in src/bench/train.ts
MODELS = {
    "d256": (4, 256, 4, 1024, 256, 32),
    "d1024": (4, 1024, 16, 4096, 256, 32),
    "d2048": (2, 2048, 32, 8192, 256, 32),
    "small": (4, 128, 4, 512, 32, 32),
}
# The engine's benchmark trains on the `reverse` task: 26 letters, '>', '\n' and '_'.
VOCAB = 29


def emit(row):
    print(json.dumps(row), flush=True)


def device_name():
    return torch.cuda.get_device_name()


def time_cuda(fn, warmups, repeats, target_seconds=0.05, max_per_pass=500):
    """Median seconds of one fn() call: warm up, calibrate how many calls fill ~target_seconds, then time
    `repeats` passes of that many calls with CUDA events."""
    for _ in range(warmups):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    torch.cuda.synchronize()
    once = max(start.elapsed_time(end) / 1e3, 1e-7)
    per_pass = max(1, min(max_per_pass, round(target_seconds / once)))
    times = []
    for _ in range(repeats):
        start.record()
        for _ in range(per_pass):
            fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3 / per_pass)
    return statistics.median(times), per_pass


def sampled_error(c, a, b, samples, gen):
    """max |c − a·b| / Σ|a_k b_k| over sampled entries, a and b float64 (already in the operand precision)."""
    n = c.shape[0]
    rows = torch.randint(0, n, (samples,), generator=gen)
    cols = torch.randint(0, n, (samples,), generator=gen)
    worst = 0.0
    for i, j in zip(rows.tolist(), cols.tolist()):
        prod = a[i, :] * b[:, j]
        ref = prod.sum().item()
        err = abs(c[i, j].item() - ref) / max(prod.abs().sum().item(), 1e-30)
        worst = max(worst, err)
    return worst


def bench_kernels(args):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    gen = torch.Generator().manual_seed(1)
    for n in args.sizes:
        flops = 2 * n**3
        a = torch.rand(n, n, device="cuda") * 2 - 1
        b = torch.rand(n, n, device="cuda") * 2 - 1
        a64, b64 = a.double().cpu(), b.double().cpu()
        # op(A)·op(B) with the same stored operands as the engine's rows
        layouts = {
            "transB": (lambda x, y: x @ y.T, a64, b64.T),
            "plain": (lambda x, y: x @ y, a64, b64),
            "transA": (lambda x, y: x.T @ y, a64.T, b64),
        }
        for layout, (op, ra, rb) in layouts.items():
            c = op(a, b)
            torch.cuda.synchronize()
            err = sampled_error(c.double().cpu(), ra, rb, args.check_samples, gen)
            seconds, per_pass = time_cuda(lambda: op(a, b), args.warmups, args.repeats)
            emit({"section": "kernel", "name": f"cublas sgemm {layout}", "size": n, "path": "cuBLAS f32, TF32 off",
                  "metric": "TFLOP/s", "value": flops / seconds / 1e12, "seconds": seconds, "per_pass": per_pass,
                  "checked": err <= 1e-4, "check": f"max err {err:.1e}·Σ|ab| ≤ 1e-4", "device": device_name()})
        ah, bh = a.half(), b.half()
        c = ah @ bh.T
        torch.cuda.synchronize()
        err = sampled_error(c.double().cpu(), ah.double().cpu(), bh.double().cpu().T, args.check_samples, gen)
        seconds, per_pass = time_cuda(lambda: ah @ bh.T, args.warmups, args.repeats)
        # f16 output rounding dominates the error: bound it by 2^-11 of Σ|ab| plus accumulation.
        emit({"section": "kernel", "name": "cublas hgemm transB", "size": n, "path": "cuBLAS f16 tensor cores",
              "metric": "TFLOP/s", "value": flops / seconds / 1e12, "seconds": seconds, "per_pass": per_pass,
              "checked": err <= 1e-3, "check": f"max err {err:.1e}·Σ|ab| ≤ 1e-3", "device": device_name()})
        del a, b, ah, bh, c
        # INT8: torch._int_mm(A [M, K], B [K, N]) → i32; B given as the transpose of [N, K] codes, the
        # engine's layout (both operands along K).
        qa = torch.randint(-127, 128, (n, n), dtype=torch.int8, device="cuda")
        qb = torch.randint(-127, 128, (n, n), dtype=torch.int8, device="cuda")
        ci = torch._int_mm(qa, qb.T)
        torch.cuda.synchronize()
        qa64, qb64 = qa.double().cpu(), qb.double().cpu()
        rows = torch.randint(0, n, (args.check_samples,), generator=gen).tolist()
        cols = torch.randint(0, n, (args.check_samples,), generator=gen).tolist()
        exact = all(int(ci[i, j].item()) == int((qa64[i, :] * qb64[j, :]).sum().item()) for i, j in zip(rows, cols))
        seconds, per_pass = time_cuda(lambda: torch._int_mm(qa, qb.T), args.warmups, args.repeats)
        emit({"section": "kernel", "name": "torch._int_mm int8", "size": n, "path": "cuBLAS INT8 tensor cores",
              "metric": "TOP/s", "value": flops / seconds / 1e12, "seconds": seconds, "per_pass": per_pass,
              "checked": exact, "check": f"{len(rows)} entries vs exact integer sums", "device": device_name()})
        del qa, qb, ci
        torch.cuda.empty_cache()


class Block(nn.Module):
    def __init__(self, d, heads, dff, layers):
        super().__init__()
        self.heads = heads
        self.ln_1, self.ln_2 = nn.LayerNorm(d, eps=1e-5), nn.LayerNorm(d, eps=1e-5)
        self.c_attn, self.attn_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.c_fc, self.mlp_proj = nn.Linear(d, dff), nn.Linear(dff, d)
        for lin in (self.c_attn, self.attn_proj, self.c_fc, self.mlp_proj):
            nn.init.normal_(lin.weight, std=0.02)
            nn.init.zeros_(lin.bias)
        for proj in (self.attn_proj, self.mlp_proj):  # GPT-2: residual projections scaled by 1/√(2·layers)
            nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * layers))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        heads = lambda t: t.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        y = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), is_causal=True)
        x = x + self.attn_proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, layers, d, heads, dff, context, vocab):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(context, d)
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.02)
        self.blocks = nn.ModuleList([Block(d, heads, dff, layers) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        nn.init.normal_(self.lm_head.weight, std=0.02)

    def forward(self, tokens, targets):
        x = self.wte(tokens) + self.wpe(torch.arange(tokens.shape[1], device=tokens.device))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]).float(), targets.view(-1), ignore_index=-1)


def bench_train(args):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for name in args.models:
        for precision in args.precisions:
            # One run per call: its model, optimizer and step closure are gone before the next run's
            # peak-memory count starts.
            train_one(args, name, precision)
            gc.collect()
            torch.cuda.empty_cache()


def train_one(args, name, precision):
    layers, d, heads, dff, context, batch = MODELS[name]
    torch.manual_seed(args.seed)
    torch.cuda.reset_peak_memory_stats()
    model = Gpt(layers, d, heads, dff, context, VOCAB).cuda()
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99), eps=1e-8)
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    losses = []

    def step():
        tokens = torch.randint(0, VOCAB, (batch, context), device="cuda")
        targets = torch.randint(0, VOCAB, (batch, context), device="cuda")
        with torch.autocast("cuda", dtype=torch.float16, enabled=precision == "fp16"):
            loss = model(tokens, targets)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        return loss.detach()

    for _ in range(args.warmup):
        losses.append(step())
    torch.cuda.synchronize()
    windows = []
    for _ in range(args.windows):
        start = time.perf_counter()
        for _ in range(args.steps):
            losses.append(step())
        torch.cuda.synchronize()
        windows.append(time.perf_counter() - start)
    values = [l.item() for l in losses]
    seconds = statistics.median(windows) / args.steps
    finite = all(math.isfinite(v) for v in values)
    start_ok = abs(values[0] - math.log(VOCAB)) <= 0.25 * math.log(VOCAB)
    params = sum(p.numel() for p in model.parameters())
    emit({"section": "peer", "name": f"pytorch-eager {precision}", "model": name,
          "size": f"d{d} L{layers} H{heads} B{batch}×T{context}", "metric": "tokens/s",
          "value": batch * context / seconds, "steps_per_s": 1 / seconds, "seconds": seconds,
          "gpu_memory_bytes": torch.cuda.max_memory_allocated(), "parameters": params,
          "checked": finite and start_ok,
          "check": f"{len(values)} losses {'finite' if finite else 'NOT finite'}, first {values[0]:.3f} vs ln(V) {math.log(VOCAB):.3f}",
          "torch": torch.__version__, "device": device_name()})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sections", default="kernels,train")
    p.add_argument("--sizes", default="1024,2048,4096,8192")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--precisions", default="fp32")
    p.add_argument("--warmups", type=int, default=2, help="untimed kernel launches")
    p.add_argument("--repeats", type=int, default=7, help="timed kernel passes (median)")
    p.add_argument("--check-samples", type=int, default=256)
    p.add_argument("--warmup", type=int, default=3, help="untimed training steps")
    p.add_argument("--steps", type=int, default=10, help="training steps per timed window")
    p.add_argument("--windows", type=int, default=5, help="timed windows (median)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.models = args.models.split(",")
    args.precisions = args.precisions.split(",")
    for m in args.models:
        if m not in MODELS:
            p.error(f"unknown model {m}; choose from {', '.join(MODELS)}")
    if not torch.cuda.is_available():
        p.error("no CUDA device: this script is for the GPU machine")
    sections = args.sections.split(",")
    if "kernels" in sections:
        bench_kernels(args)
    if "train" in sections:
        bench_train(args)


if __name__ == "__main__":
    main()
