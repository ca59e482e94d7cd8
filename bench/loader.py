"""Images per second over one epoch of MNIST training batches: vae_nbs's in-memory `TensorLoader`
versus torchvision's `MNIST(transform=ToTensor())` + `DataLoader`, same batch size, same run.

Usage (from the repository root): VAE_NBS_DATA=/path/to/data python bench/loader.py [--bs 128]
"""
import time, torch
from fastcore.script import call_parse
from torch.utils.data import DataLoader
from torchvision import datasets, transforms
from vae_nbs.data import get_data_root, load_mnist, TensorLoader

def images_per_second(loader)->float:
    "Images per second over one full pass of `loader` (batches of (x, y))."
    n, start = 0, time.perf_counter()
    for xb, yb in loader: n += len(xb)
    return n/(time.perf_counter() - start)

@call_parse
def main(bs:int=128, # batch size for both loaders
         root:str=None, # data folder; default $VAE_NBS_DATA, then ~/.cache/vae_nbs
         threads:int=1, # PyTorch CPU threads for both loaders
        ):
    "Print both loaders' throughput and their ratio on the last line."
    # One thread: on a busy shared machine two OpenMP threads per tiny batch op spin against each other
    # (we measured TensorLoader 80x slower that way); neither loader needs intra-op parallelism.
    torch.set_num_threads(threads)
    root = get_data_root(root)
    x, y = load_mnist('mnist', train=True, root=root)
    ours = images_per_second(TensorLoader(x, y, bs=bs, shuffle=True, device='cpu'))
    ds = datasets.MNIST(root, train=True, download=True, transform=transforms.ToTensor())
    theirs = images_per_second(DataLoader(ds, batch_size=bs, shuffle=True))
    print(f"CPU threads: {torch.get_num_threads()}, batch size {bs}, one epoch of {len(x)} MNIST training images")
    print(f"vae_nbs TensorLoader (cpu):                 {ours:12,.0f} images/s")
    print(f"torchvision MNIST + ToTensor + DataLoader:  {theirs:12,.0f} images/s")
    print(f"loader speedup: {ours/theirs:.1f}x")
