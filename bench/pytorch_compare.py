#!/usr/bin/env python3
"""dagrad against PyTorch on the CPU, side by side in one run.

Runs `dagrad bench` and the same training step in PyTorch (--model mnist-cnn: examples/
mnist's CNN with SGD momentum 0.9; --model mnist-vit: the vision transformer with AdamW,
both built from torch.nn in bench/torch_models.py; a fixed random batch, the same thread
count), in alternation for --rounds rounds, and prints the median of each with the ratios
of the medians, then each ratio taken round by round (median, min and max):

  dagrad                 dagrad bench --model M --infer --json (float32)
  dagrad bf16            the same with --precision bf16 (mixed precision)
  PyTorch as installed   Debian's python3-torch, environment untouched (float32)
  PyTorch best           LD_PRELOAD=libtcmalloc_minimal (when present),
                         OMP_WAIT_POLICY=passive, OPENBLAS_NUM_THREADS=1 (float32)
  PyTorch bf16 autocast  PyTorch best under torch.autocast("cpu", dtype=torch.bfloat16)
                         (forward and loss; backward follows autocast's casts)

--no-installed leaves out "PyTorch as installed" (the slowest, and no bar depends on it);
--no-bf16 leaves out both bfloat16 rows.

Training is measured at --batch (64), inference (forward only, no_grad, eval mode) at
--infer-batch (1000). Peak RSS is the process's after training. Timings on a shared
machine are noisy: the rounds alternate so that every configuration sees the same load,
and CPU seconds per step are printed next to the wall-clock rates.

PyTorch is needed only for this script (apt-get install python3-torch); the project's
build and tests never use it. Usage:

  bench/pytorch_compare.py [--model mnist-cnn|mnist-vit] [--dagrad build/apps/dagrad] [--seconds 20] [--rounds 5]
                           [--no-installed] [--no-bf16]
"""
import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
DEBIAN_PYTHON = "/usr/bin/python3"  # python3-torch installs for Debian's interpreter


def torch_worker(args):
    """Runs in a child process: times PyTorch and prints one line of JSON."""
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_models import MODELS, recipe

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    model = MODELS[args.model]()
    # The recipe's optimizer; the schedule is left out (a fixed learning rate, as dagrad
    # bench runs its steps).
    opt, _ = recipe(args.model, model, 1, 1)
    x = torch.randn(args.batch, 1, 28, 28)
    y = torch.randint(0, 10, (args.batch,))

    def autocast():
        if args.autocast:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def step():
        opt.zero_grad()
        with autocast():
            loss = F.nll_loss(model(x), y)
        loss.backward()
        opt.step()

    def measure(fn, warmup, seconds, batch):
        for _ in range(warmup):
            fn()
        steps, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
        while steps < 3 or time.perf_counter() - wall0 < seconds:
            fn()
            steps += 1
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        return {"batch": batch, "steps": steps, "wall_s": wall, "cpu_s": cpu,
                "images_per_s": steps * batch / wall, "ms_per_step": 1e3 * wall / steps,
                "cpu_ms_per_step": 1e3 * cpu / steps}

    model.train()
    out = {"train": measure(step, 5, args.seconds, args.batch)}
    out["train_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model.eval()
    xi = torch.randn(args.infer_batch, 1, 28, 28)

    def infer():
        with torch.no_grad(), autocast():
            model(xi)

    out["infer"] = measure(infer, 2, args.seconds / 2, args.infer_batch)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["torch"] = torch.__version__
    print(json.dumps(out))


def run_json(cmd, env):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"pytorch_compare: {' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="mnist-cnn", choices=["mnist-cnn", "mnist-vit"])
    p.add_argument("--dagrad", default=os.path.join(os.path.dirname(__file__), "..", "build", "apps", "dagrad"))
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--infer-batch", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-installed", action="store_true", help="leave out PyTorch as installed")
    p.add_argument("--no-bf16", action="store_true", help="leave out the bfloat16 rows")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--autocast", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return torch_worker(args)

    if not os.access(args.dagrad, os.X_OK):
        sys.exit(f"pytorch_compare: no dagrad binary at {args.dagrad}; build it or pass --dagrad")
    python = DEBIAN_PYTHON if os.access(DEBIAN_PYTHON, os.X_OK) else shutil.which("python3")
    if subprocess.run([python, "-c", "import torch"], capture_output=True).returncode != 0:
        sys.exit("pytorch_compare: PyTorch is not installed (apt-get install python3-torch)")

    common = ["--seconds", str(args.seconds), "--threads", str(args.threads), "--batch", str(args.batch),
              "--seed", str(args.seed), "--model", args.model]
    dagrad_cmd = [args.dagrad, "bench", "--infer", "--infer-batch", str(args.infer_batch), "--json"] + common
    worker = [python, os.path.abspath(__file__), "--worker", "--infer-batch", str(args.infer_batch)] + common
    best_env = dict(os.environ, OMP_WAIT_POLICY="passive", OPENBLAS_NUM_THREADS="1")
    if os.path.exists(TCMALLOC):
        best_env["LD_PRELOAD"] = TCMALLOC
    configs = [("dagrad", dagrad_cmd, dict(os.environ))]
    if not args.no_bf16:
        configs.append(("dagrad bf16", dagrad_cmd + ["--precision", "bf16"], dict(os.environ)))
    if not args.no_installed:
        configs.append(("PyTorch as installed", worker, dict(os.environ)))
    configs.append(("PyTorch best", worker, best_env))
    if not args.no_bf16:
        configs.append(("PyTorch bf16 autocast", worker + ["--autocast"], best_env))

    results = {name: [] for name, _, _ in configs}
    for r in range(args.rounds):
        for name, cmd, env in configs:
            res = run_json(cmd, env)
            results[name].append(res)
            print(f"round {r + 1}/{args.rounds} {name:21s} training {res['train']['images_per_s']:8.1f} images/s, "
                  f"inference {res['infer']['images_per_s']:8.1f} images/s, peak RSS {res['train_peak_rss_mib']:.0f} MiB",
                  flush=True)

    def med(name, *path):
        vals = []
        for res in results[name]:
            v = res
            for k in path:
                v = v[k]
            vals.append(v)
        return statistics.median(vals)

    rows = []
    for name, _, _ in configs:
        rows.append((name, med(name, "train", "images_per_s"), med(name, "train", "ms_per_step"),
                     med(name, "train", "cpu_ms_per_step"), med(name, "infer", "images_per_s"),
                     med(name, "infer", "cpu_ms_per_step"), med(name, "train_peak_rss_mib")))
    print(f"\n{args.model}, {args.threads} threads, training batch {args.batch}, inference batch {args.infer_batch}, "
          f"median of {args.rounds} alternating rounds (torch {results['PyTorch best'][0].get('torch', '?')})")
    print(f"{'':22s} {'train img/s':>12s} {'ms/step':>9s} {'CPU ms/step':>12s} {'infer img/s':>12s} "
          f"{'CPU ms/batch':>13s} {'peak RSS MiB':>13s}")
    for name, tr, ms, cms, inf, icms, rss in rows:
        print(f"{name:22s} {tr:12.1f} {ms:9.2f} {cms:12.2f} {inf:12.1f} {icms:13.1f} {rss:13.0f}")
    by_name = {row[0]: row for row in rows}
    pairs = [("dagrad", "PyTorch as installed"), ("dagrad", "PyTorch best"), ("dagrad bf16", "dagrad"),
             ("dagrad bf16", "PyTorch bf16 autocast"), ("dagrad bf16", "PyTorch best")]
    for mine, other in pairs:
        if mine not in by_name or other not in by_name:
            continue
        d, o = by_name[mine], by_name[other]
        label = f"{mine} / {other}".replace("PyTorch ", "PT ")[:22]
        print(f"{label:22s} {d[1] / o[1]:11.2f}x {'':9s} {o[3] / d[3]:11.2f}x {d[4] / o[4]:11.2f}x "
              f"{o[5] / d[5]:12.2f}x {d[6] / o[6]:12.2f}x")
    print("(ratios: speed-ups of the first, CPU-time ratios as second / first, memory as first / second; PT = PyTorch)")

    # The same ratios round by round: both sides of a pair ran minutes apart under the same
    # host load, so a round's ratio drifts less than either side's rate.
    def per_round(mine, other, kind):
        return [a[kind]["images_per_s"] / b[kind]["images_per_s"] for a, b in zip(results[mine], results[other])]

    print(f"\nper-round speed ratios, median [min, max] over the {args.rounds} rounds:")
    for mine, other in pairs:
        if mine not in results or other not in results:
            continue
        label = f"{mine} / {other}".replace("PyTorch ", "PT ")[:22]
        cells = []
        for kind in ("train", "infer"):
            r = per_round(mine, other, kind)
            cells.append(f"{kind} {statistics.median(r):5.2f}x [{min(r):.2f}, {max(r):.2f}]")
        print(f"{label:22s} {'   '.join(cells)}")


if __name__ == "__main__":
    main()
