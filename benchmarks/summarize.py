#!/usr/bin/env python3
"""Summarises JMH JSON result files (java -jar benchmarks.jar -rf json -rff FILE) of this module:
for each benchmark and parameter set, the range (min-max) of the per-iteration scores over all
given files, as time per op and, where the work is known, as GFLOP/s.

    python3 benchmarks/summarize.py run1.json run2.json ...
"""
import json
import sys
from collections import defaultdict

HEADS = 8  # CpuAttentionBench


def flops(bench, p):
    cls, method = bench.split('.')[-2:]
    if cls in ('CpuGemmBench', 'CpuNaiveGemmBench', 'GemmBench', 'NaiveGemmBench'):
        n = int(p['n'])
        return 2.0 * n ** 3
    if cls in ('CpuGemvBench', 'GemvBench'):
        return 2.0 * 4096 * 4096
    if cls in ('CpuBf16GemmBench', 'Bf16GemmBench'):
        return 2.0 * int(p['m']) * 2048 * 2048
    if cls in ('CpuAttentionBench', 'AttentionBench'):
        t, d = int(p['seq']), int(p['headDim'])
        if method == 'forward':
            return 2 * 2.0 * t * t * d * HEADS / 2   # QK^T and PV, causal half
        if method == 'backward':
            return 5 * 2.0 * t * t * d * HEADS / 2   # S, dP, dQ, dK, dV
        if method == 'decodeStep':
            return 2 * 2.0 * t * d * HEADS
    return None


def to_seconds(score, unit):
    return score * {'ms/op': 1e-3, 'us/op': 1e-6, 's/op': 1.0, 'ns/op': 1e-9}[unit]


def main(files):
    rows = defaultdict(list)
    units = {}
    for f in files:
        for r in json.load(open(f)):
            params = r.get('params', {})
            key = (r['benchmark'], tuple(sorted(params.items())))
            unit = r['primaryMetric']['scoreUnit']
            units[key] = unit
            for fork in r['primaryMetric']['rawData']:
                rows[key].extend(fork)
    print('| benchmark | params | time/op (min-max) | GFLOP/s (min-max) | samples |')
    print('|---|---|---|---|---|')
    for key in sorted(rows):
        bench, params = key
        vals = rows[key]
        unit = units[key]
        lo, hi = min(vals), max(vals)
        fl = flops(bench, dict(params))
        gf = ''
        if fl:
            g1 = fl / to_seconds(hi, unit) / 1e9
            g2 = fl / to_seconds(lo, unit) / 1e9
            gf = f'{g1:.1f}-{g2:.1f}'
        p = ' '.join(f'{k}={v}' for k, v in params)
        print(f"| {bench.split('.', 2)[-1]} | {p} | {lo:.3g}-{hi:.3g} {unit} | {gf} | {len(vals)} |")


if __name__ == '__main__':
    main(sys.argv[1:])
