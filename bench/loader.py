"""Images per second over one epoch of MNIST training batches: vae_nbs's in-memory `TensorLoader`
versus torchvision's `MNIST(transform=ToTensor())` + `DataLoader`, same batch size, same run.
The two are timed in turn, `--rounds` times, and the medians compared, so a busy moment on a shared
machine does not decide the ratio.

The result is written to nbs/images/loader_speed.json (key "speedup", the two throughputs and the
hardware), which the datasets chapter reads.

Usage (from the repository root): VAE_NBS_DATA=/path/to/data python bench/loader.py [--bs 128]
"""
import argparse, json, os, platform, statistics, time, torch
from pathlib import Path
from torch.utils.data import DataLoader
from torchvision import datasets, transforms
from vae_nbs.data import get_data_root, load_mnist, TensorLoader

def images_per_second(loader)->float:
    "Images per second over one full pass of `loader` (batches of (x, y))."
    n, start = 0, time.perf_counter()
    for xb, yb in loader: n += len(xb)
    return n/(time.perf_counter() - start)

def main(bs:int=128, # batch size for both loaders
         root:str=None, # data folder; default $VAE_NBS_DATA, then ~/.cache/vae_nbs
         threads:int=1, # PyTorch CPU threads for both loaders
         rounds:int=3, # interleaved timings of each loader
         out:str='nbs/images/loader_speed.json', # where the results are written (JSON)
        ):
    "Print both loaders' median throughput and their ratio on the last line."
    # One thread: on a busy shared machine two OpenMP threads per tiny batch op spin against each other
    # (we measured TensorLoader 80x slower that way); neither loader needs intra-op parallelism.
    torch.set_num_threads(threads)
    root = get_data_root(root)
    x, y = load_mnist('mnist', train=True, root=root)
    ds = datasets.MNIST(root, train=True, download=True, transform=transforms.ToTensor())
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(images_per_second(TensorLoader(x, y, bs=bs, shuffle=True, device='cpu')))
        theirs.append(images_per_second(DataLoader(ds, batch_size=bs, shuffle=True)))
    ours, theirs = statistics.median(ours), statistics.median(theirs)
    print(f"CPU threads: {torch.get_num_threads()}, batch size {bs}, one epoch of {len(x)} MNIST training images, median of {rounds}")
    print(f"vae_nbs TensorLoader (cpu):                 {ours:12,.0f} images/s")
    print(f"torchvision MNIST + ToTensor + DataLoader:  {theirs:12,.0f} images/s")
    print(f"loader speedup: {ours/theirs:.1f}x")
    res = dict(speedup=round(ours/theirs, 1), tensorloader_images_per_s=round(ours), torchvision_images_per_s=round(theirs),
               epoch_seconds_tensorloader=round(len(x)/ours, 3), epoch_seconds_torchvision=round(len(x)/theirs, 2),
               images=len(x), bs=bs, rounds=rounds, threads=torch.get_num_threads(),
               hardware=f"a {os.cpu_count()}-core {platform.machine().replace('_', '-')} CPU ({torch.get_num_threads()} PyTorch "
                        f"thread{'s' * (torch.get_num_threads() != 1)}, torch {torch.__version__.split('+')[0]}, no GPU)",
               command=f"python bench/loader.py --rounds {rounds}")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(res, indent=1) + '\n')
    print(f"wrote {out}")

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--bs', type=int, default=128, help='batch size for both loaders')
    p.add_argument('--root', default=None, help='data folder; default $VAE_NBS_DATA, then ~/.cache/vae_nbs')
    p.add_argument('--threads', type=int, default=1, help='PyTorch CPU threads for both loaders')
    p.add_argument('--rounds', type=int, default=3, help='interleaved timings of each loader')
    p.add_argument('--out', default='nbs/images/loader_speed.json', help='JSON file the results are written to')
    a = p.parse_args()
    main(a.bs, a.root, a.threads, a.rounds, a.out)
