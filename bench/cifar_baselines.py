"""Baselines for CIFAR-10 in bits per dimension, on the very test files the colour chapter scores.

The CIFAR-10 copy here is stored as JPEG files (quality 75, 4:2:0 chroma). A model is scored on the decoded 8-bit
pixels, so the fair yardsticks are measured on the same decoded pixels of all 10,000 test images:

* uniform: every value equally likely, 8 bits/dim;
* PNG and WebP: the lossless files PIL writes for each image (optimised PNG; WebP lossless at its slowest method),
  headers included, and, for scale, the JPEG files themselves (which decode to exactly these pixels);
* a causal linear predictor: each sub-pixel predicted from its W, N, NW and NE neighbours in all three channels and the
  earlier channels of its own pixel (least squares, fitted on 10,000 training images), scored by a discretised logistic
  around the prediction whose scale is one of 8, picked by the local activity (how much the neighbours differ).

The JPEG effect is measured on a proxy, since the original CIFAR-10 pixels are not here: the landscape paintings and
the CelebA faces resized to 32x32, scored as they are and after the same JPEG encoding (predictor refitted on each
version, two-fold), and stored by the same PNG and WebP encoders.

Writes nbs/images/cifar_baselines.json. About 6 minutes of CPU time on one core of a 2-core x86-64 CPU.

    VAE_NBS_DATA=/path/to/data python bench/cifar_baselines.py
    VAE_NBS_DATA=/path/to/data python bench/cifar_baselines.py --n-test 500 --out /tmp/b.json   # a quick look
"""
import argparse, io, json, os, sys, time
from pathlib import Path
import numpy as np, torch, torch.nn.functional as F
from PIL import Image

IMAGES = Path(__file__).resolve().parent.parent/'nbs'/'images'
D = 3*32*32
LN2 = float(np.log(2))

def bits_of(nbytes:float)->float: return 8*nbytes/D

def encoded_bytes(a:np.ndarray, fmt:str)->int:
    "Size in bytes of the HWC uint8 image `a` saved losslessly (or as JPEG q75 4:2:0 for fmt 'JPEG')."
    buf, im = io.BytesIO(), Image.fromarray(a)
    if fmt == 'PNG': im.save(buf, 'PNG', optimize=True)
    elif fmt == 'WEBP': im.save(buf, 'WEBP', lossless=True, quality=100, method=6)
    else: im.save(buf, 'JPEG', quality=75, subsampling=2)
    return buf.tell()

def jpeg_roundtrip(x:torch.Tensor)->torch.Tensor:
    "Encode each uint8 image [N,3,H,W] as JPEG quality 75 with 4:2:0 chroma (PIL), and decode it."
    out = []
    for a in x.permute(0, 2, 3, 1).numpy():
        buf = io.BytesIO(); Image.fromarray(a).save(buf, 'JPEG', quality=75, subsampling=2)
        out.append(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert('RGB')))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()

def scan_bytes(data:bytes)->int:
    "Bytes of a JPEG's entropy-coded data: from the end of the start-of-scan header to the end-of-image marker."
    sos = data.index(b'\xff\xda')
    return len(data) - (sos + 2 + int.from_bytes(data[sos + 2:sos + 4], 'big')) - 2

def features(x:torch.Tensor)->tuple:
    "Causal features [N,3,H,W,F] (W, N, NW, NE of all channels, then border flags and a constant) and activity [N,3,H,W]."
    N, C, H, W = x.shape
    p = F.pad(x, (1, 1, 1, 0))  # zeros left, right and above
    w, n, nw, ne = p[:, :, 1:, :W], p[:, :, :H, 1:W + 1], p[:, :, :H, :W], p[:, :, :H, 2:]
    i, j = torch.arange(H)[:, None].expand(H, W), torch.arange(W)[None].expand(H, W)
    flags = torch.stack([i == 0, j == 0, j == W - 1, torch.ones(H, W, dtype=torch.bool)]).to(x.dtype)
    nb = torch.cat([w, n, nw, ne], 1)  # [N, 12, H, W]
    f = torch.cat([nb, flags.expand(N, -1, -1, -1)], 1).movedim(1, -1)
    grad = (w - nw).abs() + (n - nw).abs() + (n - ne).abs() + (w - n).abs()  # [N, 3, H, W]
    return f, grad

class Predictor:
    "Causal linear predictor with a discretised logistic of 8 activity-picked scales per channel."
    def __init__(self, bins:int=8): self.bins = bins

    def design(self, x:torch.Tensor, c:int)->torch.Tensor:
        f, _ = features(x)
        return torch.cat([f, x[:, :c].movedim(1, -1)], -1)  # + the earlier channels of the same pixel

    def activity(self, x:torch.Tensor, c:int, res:list)->torch.Tensor:
        _, grad = features(x)
        a = grad.mean(1) + grad[:, c]
        for r in res: a = a + 2*r.abs()  # how wrong the earlier channels of this pixel were
        return a

    def predict(self, x:torch.Tensor, c:int)->torch.Tensor:
        return (self.design(x, c) @ self.w[c]).clamp(0, 255)

    def fit(self, x:torch.Tensor, batch:int=500):
        "Least squares per channel (float64 normal equations over batches), then the scales by maximum likelihood."
        x = x.double()
        self.w, self.edges, self.log_s = [], [], []
        for c in range(3):
            k = 16 + c
            A, b = torch.zeros(k, k, dtype=torch.float64), torch.zeros(k, dtype=torch.float64)
            for xb in x.split(batch):
                X = self.design(xb, c).reshape(-1, k)
                A += X.T @ X; b += X.T @ xb[:, c].reshape(-1)
            self.w.append(torch.linalg.solve(A + 1e-6*torch.eye(k, dtype=A.dtype), b))
        res = [torch.cat([xb[:, c] - self.predict(xb, c) for xb in x.split(batch)]) for c in range(3)]
        grid = torch.linspace(-1, 4.5, 111, dtype=torch.float64)  # log-scales in units of one level
        g = torch.Generator().manual_seed(0)
        for c in range(3):
            act = self.activity(x, c, res[:c]).reshape(-1)
            edges = torch.quantile(act[torch.randperm(len(act), generator=g)[:200_000]],
                                   torch.linspace(0, 1, self.bins + 1, dtype=torch.float64)[1:-1])
            which = torch.bucketize(act, edges)
            pred, val = (x[:, c] - res[c]).reshape(-1), x[:, c].reshape(-1)
            ls = []
            for q in range(self.bins):
                idx = (which == q).nonzero()[:, 0]
                idx = idx[torch.randperm(len(idx), generator=g)[:100_000]]
                nll = torch.stack([-self.log_prob(val[idx], pred[idx], s).mean() for s in grid])
                ls.append(grid[nll.argmin()].item())
            self.edges.append(edges); self.log_s.append(torch.tensor(ls, dtype=torch.float64))
        return self

    @staticmethod
    def log_prob(v:torch.Tensor, mean:torch.Tensor, log_s)->torch.Tensor:
        "log P(v) of integer values 0..255 under a logistic at `mean` with scale e^log_s levels, end bins open."
        from vae_nbs.colour import logistic_bin_log_prob
        log_s = torch.as_tensor(log_s, dtype=torch.float64)
        return logistic_bin_log_prob(v/255, mean/255, log_s - np.log(255))

    @torch.no_grad()
    def bits(self, x:torch.Tensor, batch:int=500)->tuple:
        "Bits per dimension of uint8 images [N,3,32,32], and per channel."
        total = torch.zeros(3, dtype=torch.float64)
        for xb in x.double().split(batch):
            res = []
            for c in range(3):
                pred = self.predict(xb, c)
                which = torch.bucketize(self.activity(xb, c, res), self.edges[c])
                total[c] -= self.log_prob(xb[:, c], pred, self.log_s[c][which]).sum()
                res.append(xb[:, c] - pred)
        per = (total/(len(x)*1024*LN2)).tolist()
        return sum(per)/3, per

def load_files(folder:Path)->tuple:
    "Decoded uint8 images [N,3,32,32] of every JPEG under `folder` (sorted), their file sizes and scan sizes."
    files = sorted(folder.rglob('*.jpg'))
    imgs, sizes, scans = [], [], []
    for f in files:
        data = f.read_bytes()
        imgs.append(np.asarray(Image.open(io.BytesIO(data)).convert('RGB')))
        sizes.append(len(data)); scans.append(scan_bytes(data))
    return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous(), files, sizes, scans

def store_sizes(x:torch.Tensor)->dict:
    "Mean PNG and WebP (lossless) sizes of uint8 images [N,3,H,W], in bits/dim, headers included."
    a = x.permute(0, 2, 3, 1).numpy()
    return {fmt.lower(): bits_of(np.mean([encoded_bytes(im, fmt) for im in a])) for fmt in ('PNG', 'WEBP')}

def twofold(x:torch.Tensor)->float:
    "Predictor bits/dim on `x`, fitted on one half and scored on the other, both ways, averaged over all images."
    a, b = x[0::2], x[1::2]
    ba, bb = Predictor().fit(b).bits(a)[0], Predictor().fit(a).bits(b)[0]
    return (ba*len(a) + bb*len(b))/len(x)

def main(argv=None)->int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0], epilog='example: VAE_NBS_DATA=/data python '
                                'bench/cifar_baselines.py --n-test 500 --out /tmp/b.json',
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--n-train', type=int, default=10_000, help='training images the predictor is fitted on (random, seed 0)')
    p.add_argument('--n-test', type=int, default=None, help='a random subset of the test images (seed 0; default all 10,000)')
    p.add_argument('--out', default=str(IMAGES/'cifar_baselines.json'), help='where the JSON goes')
    p.add_argument('--threads', type=int, default=1, help='PyTorch threads')
    args = p.parse_args(argv)
    from vae_nbs.data import get_data_root, load_image_folder, load_celeba
    root = get_data_root()
    if not (root/'cifar10'/'test').is_dir():
        print(f"error: no CIFAR-10 JPEG folders under {root/'cifar10'}; set VAE_NBS_DATA to the data folder that holds "
              "cifar10/train and cifar10/test", file=sys.stderr)
        return 1
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(0)
    test, files, sizes, scans = load_files(root/'cifar10'/'test')
    if args.n_test:
        keep = torch.randperm(len(test), generator=g)[:args.n_test]
        test, sizes, scans = test[keep], [sizes[i] for i in keep], [scans[i] for i in keep]
    train_files = sorted((root/'cifar10'/'train').rglob('*.jpg'))
    pick = torch.randperm(len(train_files), generator=torch.Generator().manual_seed(0))[:args.n_train]
    train = torch.from_numpy(np.stack([np.asarray(Image.open(train_files[i]).convert('RGB')) for i in pick])
                            ).permute(0, 3, 1, 2).contiguous()
    with Image.open(files[0]) as im: tables = im.quantization
    buf = io.BytesIO(); Image.fromarray(test[0].permute(1, 2, 0).numpy()).save(buf, 'JPEG', quality=75, subsampling=2)
    same_tables = Image.open(buf).quantization == tables
    print(f"{len(test):,} test images, {len(train):,} training images loaded in {time.perf_counter() - t0:.0f} s", flush=True)

    t = time.perf_counter()
    pred = Predictor().fit(train)
    bpd, per = pred.bits(test)
    fit_s = time.perf_counter() - t
    print(f"causal linear predictor: {bpd:.3f} bits/dim ({', '.join(f'{v:.2f}' for v in per)} for R, G, B), "
          f"{fit_s:.0f} s", flush=True)
    t = time.perf_counter()
    stored = store_sizes(test)
    print(f"PNG {stored['png']:.3f}, WebP {stored['webp']:.3f} bits/dim ({time.perf_counter() - t:.0f} s)", flush=True)
    cifar = dict(n=len(test), uniform=8.0, png=stored['png'], webp=stored['webp'], predictor=bpd,
                 predictor_channels=dict(zip('RGB', per)), jpeg_file=bits_of(np.mean(sizes)),
                 jpeg_scan=bits_of(np.mean(scans)), quality75_420_tables=same_tables)

    # the JPEG effect on a proxy: paintings and faces at 32x32, as they are and through the same JPEG encoding
    t = time.perf_counter()
    raw = torch.cat([load_image_folder(root/'paintings-landscapes', size=32, cache=False), load_celeba(root, size=32)])
    jpg = jpeg_roundtrip(raw)
    proxy = {}
    for name, x in [('original', raw), ('jpeg', jpg)]:
        s = store_sizes(x)
        proxy[name] = dict(predictor=twofold(x), **s)
        print(f"proxy {name}: " + ', '.join(f'{k} {v:.3f}' for k, v in proxy[name].items()), flush=True)
    proxy['effect'] = {k: proxy['original'][k] - proxy['jpeg'][k] for k in proxy['original']}
    proxy.update(n=len(raw), images='403 landscape paintings and 32 CelebA faces, resized to 32x32',
                 seconds=time.perf_counter() - t)

    res = dict(cifar10=cifar, proxy=proxy,
               protocol=('CIFAR-10 test JPEG files decoded by PIL to 8-bit RGB; bits/dim = bits per image / 3072. PNG: '
                         'PIL optimize=True; WebP: PIL lossless, method 6; JPEG file: the stored file; JPEG scan: its '
                         'entropy-coded data only (no headers or tables). Predictor: least squares on W, N, NW, NE of '
                         'all channels and the earlier channels of the pixel, discretised logistic with 8 scales per '
                         'channel picked by local activity, fitted on random training images (seed 0).'),
               n_train=len(train), seconds=time.perf_counter() - t0,
               machine=dict(cores=os.cpu_count(), threads=torch.get_num_threads(), torch=torch.__version__))
    Path(args.out).write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k != 'protocol'}, indent=1))
    return 0

if __name__ == '__main__':
    try: sys.exit(main())
    except KeyboardInterrupt:
        print('interrupted: nothing was written', file=sys.stderr); sys.exit(130)
