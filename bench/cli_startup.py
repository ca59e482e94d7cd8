"""How fast the command-line programs answer: `--help`, an argument error, and one real upscaling.

Each command is run `--rounds` times as a user runs it (a new process each time) and the median wall time is
printed, beside the time Python takes to start and import nothing (the floor no command can beat) and the time to
import torch (what every command that does work pays once).

    VAE_NBS_DATA=/path/to/data python bench/cli_startup.py
"""
import argparse, statistics, subprocess, sys, tempfile, time
from pathlib import Path

def median_seconds(cmd:list, rounds:int, ok=(0,))->float:
    "Median wall time of running `cmd` `rounds` times; each run must exit with a status in `ok`."
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if r.returncode not in ok: sys.exit(f"{' '.join(map(str, cmd))} exited {r.returncode}: {r.stderr[-500:]}")
    return statistics.median(times)

def main(rounds:int=5):
    with tempfile.TemporaryDirectory() as d:
        from PIL import Image
        digit = Path(d)/'digit.png'
        Image.new('L', (96, 96), 240).save(digit)
        from PIL import ImageDraw
        im = Image.open(digit); ImageDraw.Draw(im).line([(30, 20), (66, 20), (40, 80)], fill=20, width=9); im.save(digit)
        rows = [('python, no imports', [sys.executable, '-c', 'pass'], (0,)),
                ('python, import torch', [sys.executable, '-c', 'import torch'], (0,)),
                ('vae_nbs_upscale --help', ['vae_nbs_upscale', '--help'], (0,)),
                ('vae_nbs_train --help', ['vae_nbs_train', '--help'], (0,)),
                ('vae_nbs_train --epochs 0 (argument error)', ['vae_nbs_train', '--epochs', '0'], (2,)),
                ('vae_nbs_upscale one image, CPU', ['vae_nbs_upscale', digit, '--ckpt', 'pretrained:upscaler', '-o',
                                                    Path(d)/'big.png', '--device', 'cpu'], (0,))]
        print(f"median of {rounds} runs, each a new process")
        for name, cmd, ok in rows: print(f"  {name:45} {median_seconds(list(map(str, cmd)), rounds, ok):6.2f} s")

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--rounds', type=int, default=5, help='runs of each command')
    main(p.parse_args().rounds)
