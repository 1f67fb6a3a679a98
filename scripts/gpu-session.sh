#!/usr/bin/env bash
# The fast-engine measurements (docs/benchmarks.md) in a few batches, for a session that is lent a GPU
# machine (../shared/docs/gpu-measurement.md): device time is scarce, so everything a session needs is
# decided here, not typed on the day.
#
# Here, once:   bash scripts/gpu-session.sh prepare       bundles dist-node/*.mjs and packs .gpu/
# There (run tool, carry [".gpu"]), one call per step, each under 10 minutes:
#   bash scripts/gpu-session.sh kernels     f32 tile sweep at 4096³, integer tilings, every kernel path,
#                                           fused vs separate attention
#   bash scripts/gpu-session.sh train       tokens/s and memory, d2048/d1024/small, fp32/int8/int4, the
#                                           engine's defaults (fused attention, tuned f32 tiles); INT4 at
#                                           d2048 without subgroup matrices (the dot4I8Packed path)
#   bash scripts/gpu-session.sh baseline    the same with separate attention and built-in tiles
#   bash scripts/gpu-session.sh profile     per-kernel GPU time of a d2048 INT4 step and an FP32 step
#   bash scripts/gpu-session.sh startup     start-up of a d2048 INT4 run, tuning fully, then remembered
#   bash scripts/gpu-session.sh int-repeat  the integer tilings twice, in two processes, with the clocks logged
#   bash scripts/gpu-session.sh ceilings    the instruction ceilings (f32 fma, dot4I8Packed, subgroup matrices on registers
#                                           and in the tiled kernels' inner loops) next to the kernels they bound, one
#                                           process, with the clocks logged
#   bash scripts/gpu-session.sh targets     the targets from the files under $OUT (also printed after
#                                           essentials and train)
#   bash scripts/gpu-session.sh essentials  when machines are scarce: cuBLAS, the instruction ceilings, the f32 tile
#                                           sweep, the integer tilings and the attention kernels, in one call that stays
#                                           under the 10-minute limit (each command has its own time limit,
#                                           so what finished comes back even if one hangs)
# Every step writes its JSON and log under $OUT (which the run tool brings back).
set -uo pipefail
step=${1:-}
out=${OUT:-/tmp/gpu-session}
mkdir -p "$out"
node_() { bash .gpu/run.sh "$@"; }
# The targets judged from every result file so far (npm run bench -- targets; reads files only).
targets() { node_ .gpu/bench.mjs targets "$out"/*.json "$out"/torch-*.txt > "$out/targets.md" 2>&1; cat "$out/targets.md"; }
case "$step" in
  prepare)
    set -e
    node scripts/build-node.mjs --quiet bench=src/bench/main.ts bench-sparse=src/bench/sparse-main.ts
    bash ../shared/gpu/make-carry.sh dist-node/bench.mjs dist-node/train.mjs dist-node/bench-sparse.mjs
    ;;
  kernels)
    node_ .gpu/bench.mjs tune --sizes 4096 --out "$out/tune-4096.json" > "$out/tune-4096.txt" 2>&1
    node_ .gpu/bench.mjs --sections kernels --groups int --int-tilings --sizes 4096 --repeats 5 --out "$out/int-tilings-4096.json" > "$out/int-tilings-4096.txt" 2>&1
    node_ .gpu/bench.mjs --sections kernels --sizes 1024,4096 --repeats 5 --out "$out/kernels.json" > "$out/kernels.txt" 2>&1
    node_ .gpu/bench.mjs --sections attention --repeats 5 --out "$out/attention.json" > "$out/attention.txt" 2>&1
    ;;
  essentials)
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$out/gpu.txt" 2>&1
    timeout 60 python3 bench/torch_bench.py --sections kernels --sizes 4096 > "$out/torch-kernels.txt" 2>&1
    timeout 50 bash .gpu/run.sh .gpu/bench.mjs --sections ceilings --repeats 5 --out "$out/ceilings.json" > "$out/ceilings.txt" 2>&1
    timeout 190 bash .gpu/run.sh .gpu/bench.mjs tune --sizes 4096 --out "$out/tune-4096.json" > "$out/tune-4096.txt" 2>&1
    timeout 170 bash .gpu/run.sh .gpu/bench.mjs --sections kernels --groups int --int-tilings --sizes 4096 --repeats 5 --out "$out/int-tilings-4096.json" > "$out/int-tilings-4096.txt" 2>&1
    timeout 110 bash .gpu/run.sh .gpu/bench.mjs --sections attention --repeats 5 --out "$out/attention.json" > "$out/attention.txt" 2>&1
    targets
    ;;
  train)
    node_ .gpu/bench.mjs --sections train,peer --models d2048,d1024 --precisions fp32,int8,int4 --windows 3 --out "$out/train.json" > "$out/train.txt" 2>&1
    # `small` in a process of its own: after d2048 runs (or the TF.js peer) in the same process its FP32 rows
    # ran ~4× slower than alone (H200 and H100, 2026-12-05).
    node_ .gpu/bench.mjs --sections train,peer --models small --precisions fp32,int8,int4 --windows 5 --out "$out/train-small.json" > "$out/train-small.txt" 2>&1
    timeout 120 python3 bench/torch_bench.py --sections train --models small > "$out/torch-train.txt" 2>&1
    # INT4 as a browser without subgroup matrices runs it: products on dot4I8Packed (its generated tilings
    # tuned at start-up), the CLI's wall clock over 20 steps.
    timeout 150 bash .gpu/run.sh .gpu/train.mjs --dataset names --layers 2 --d-model 2048 --heads 32 --d-ff 8192 --context 256 --batch 32 --precision int4 --steps 20 --checkpoint-every 0 --measure-every 0 --experimental-features off > "$out/train-d2048-int4-dot4.txt" 2>&1
    targets
    ;;
  baseline)
    node_ .gpu/bench.mjs --sections train --models d2048,small --precisions fp32,int4 --windows 3 --attention-kernel separate --matmul-tuning off --out "$out/train-baseline.json" > "$out/train-baseline.txt" 2>&1
    ;;
  profile)
    for p in int4 fp32; do
      node_ .gpu/train.mjs --dataset names --layers 2 --d-model 2048 --heads 32 --d-ff 8192 --context 256 --batch 32 --precision $p --steps 6 --profile 2 --checkpoint-every 0 --metrics "$out/profile-d2048-$p.jsonl" --measure-every 0 --tuning-cache "$out/profile-tunings.json" > "$out/profile-d2048-$p.txt" 2>&1
    done
    # The released code's backward (every nonzero split row kept, no 1/p): ∇W on integer codes too.
    node_ .gpu/train.mjs --dataset names --layers 2 --d-model 2048 --heads 32 --d-ff 8192 --context 256 --batch 32 --precision int4 --backward-quantizer bitsplit --steps 6 --profile 2 --checkpoint-every 0 --metrics "$out/profile-d2048-int4-bitsplit.jsonl" --measure-every 0 --tuning-cache "$out/profile-tunings.json" > "$out/profile-d2048-int4-bitsplit.txt" 2>&1
    ;;
  startup)
    # Start-up with tunings remembered (--tuning-cache): the first run tunes fully, the second only
    # re-checks and re-times the remembered kernels.
    for i in 1 2; do
      node_ .gpu/train.mjs --dataset names --layers 2 --d-model 2048 --heads 32 --d-ff 8192 --context 256 --batch 32 --precision int4 --steps 2 --checkpoint-every 0 --tuning-cache "$out/tuning-cache.json" > "$out/startup-d2048-int4-$i.txt" 2>&1
    done
    grep -ho "built in .*" "$out"/startup-d2048-int4-*.txt
    ;;
  ceilings)
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$out/gpu.txt" 2>&1
    nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv -lms 200 > "$out/ceilings-clocks.csv" 2>&1 &
    smi=$!
    # Time limits that add up to under the device tool's 10 minutes, so the files of what finished come back.
    timeout 45 python3 bench/torch_bench.py --sections kernels --sizes 4096 > "$out/torch-kernels.txt" 2>&1
    timeout 80 bash .gpu/run.sh .gpu/bench.mjs --sections ceilings --repeats 5 --out "$out/ceilings.json" > "$out/ceilings.txt" 2>&1
    timeout 220 bash .gpu/run.sh .gpu/bench.mjs --sections kernels --groups int --int-tilings --sizes 4096 --repeats 5 --out "$out/int-tilings-4096.json" > "$out/int-tilings-4096.txt" 2>&1
    timeout 150 bash .gpu/run.sh .gpu/bench.mjs tune --sizes 4096 --out "$out/tune-4096.json" > "$out/tune-4096.txt" 2>&1
    timeout 60 bash .gpu/run.sh .gpu/bench.mjs --sections ceilings --repeats 5 --out "$out/ceilings-2.json" > "$out/ceilings-2.txt" 2>&1
    kill $smi
    grep -h "ceiling" "$out"/ceilings.txt "$out"/ceilings-2.txt | grep -v '^|'
    ;;
  int-repeat)
    # The integer tilings at 4096³ in two processes of their own, the GPU's clocks, power and throttle
    # reasons logged every 100 ms and each kernel's log line stamped: whether a subgroup-matrix kernel that
    # runs 3× slower in one process than in the next is slow throughout (its passes, passMicroseconds in the
    # JSON) and whether the clocks say why.
    nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,pstate,clocks_throttle_reasons.active --format=csv -lms 100 > "$out/clocks.csv" 2>&1 &
    smi=$!
    for i in 1 2; do
      timeout 240 bash .gpu/run.sh .gpu/bench.mjs --sections kernels --groups int --int-tilings --sizes 4096 --repeats 5 --out "$out/int-tilings-4096-$i.json" 2>&1 |
        while IFS= read -r line; do echo "$(date +%H:%M:%S.%N | cut -c1-12) $line"; done > "$out/int-tilings-4096-$i.txt"
    done
    kill $smi
    ;;
  targets)
    targets
    ;;
  *)
    echo "usage: bash scripts/gpu-session.sh prepare|kernels|essentials|train|baseline|profile|startup|int-repeat|ceilings|targets" >&2
    exit 2
    ;;
esac
tail -n 5 "$out"/*.txt 2>/dev/null
