#!/usr/bin/env python
"""Make the pretrained models that ship inside the package, and record what each scores.

    python tools/make_pretrained.py                  # all of them: mnist, upscaler, cvae
    python tools/make_pretrained.py mnist --runs /tmp/pretrained

Each model is trained by `run_training` with its recipe in `vae_nbs.train.PRETRAINED` (the same as
`vae_nbs_train --recipe NAME --out DIR`), then stored in half precision without the optimiser state in
vae_nbs/weights/NAME.pt, and scored: the figures go to vae_nbs/weights/pretrained.json, which
`pretrained_info(NAME)` reads and the tests check."""
import argparse, json, os, platform, time
from pathlib import Path
import torch
from vae_nbs.data import atomic_write, TensorLoader
from vae_nbs.train import PRETRAINED, run_training, load, load_checkpoint, evaluate, dataset_loaders
from vae_nbs.metrics import score
from vae_nbs.upscale import evaluate_upscalers

WEIGHTS = Path(__file__).resolve().parent.parent/'vae_nbs'/'weights'

def ship(src:Path, dst:Path, name:str):
    "Copy checkpoint `src` to `dst` with half-precision weights and no optimiser state."
    ckpt = load_checkpoint(src)
    ckpt['model'] = {k: v.half() if v.is_floating_point() else v for k, v in ckpt['model'].items()}
    ckpt['optimizer'], ckpt['recipe'] = None, name
    atomic_write(dst, lambda f: torch.save(ckpt, f))

def figures(name:str, model, n:int|None)->dict:
    "What the shipped model scores: on the first `n` test images (None: all of them)."
    if name == 'mnist':
        r = score(model, 'mnist', k=50 if n else 100, n=n, show=False)
        return {k: r[k] for k in ('n', 'k', 'seed', 'nll', 'nelbo', 'bits_per_dim', 'protocol')}
    dls = dataset_loaders('mnist', model, bs=500, device='cpu')
    test = TensorLoader(*(t[:n] for t in dls.test.tensors), bs=500, device='cpu') if n else dls.test
    if name == 'upscaler':
        r = evaluate_upscalers(test, {'upscaler': model})
        return dict(n=n or dls.test.n, psnr=r['upscaler']['psnr'], ssim=r['upscaler']['ssim'], psnr_bicubic=r['bicubic']['psnr'])
    torch.manual_seed(0)
    r = evaluate(model, test)
    return dict(n=n or dls.test.n, test_nelbo=r['loss'], note='negative ELBO of the grey-level test digits given their labels')

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('names', nargs='*', default=list(PRETRAINED), help='which models (default: all)')
    ap.add_argument('--runs', default='/tmp/vae_nbs_pretrained', help='folder for the full training runs')
    ap.add_argument('--device', default='cpu', help='where to train (the shipped figures were made on a CPU)')
    a = ap.parse_args()
    card_path = WEIGHTS/'pretrained.json'
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    for name in a.names:
        r = PRETRAINED[name]
        out = Path(a.runs)/name
        learn = run_training(out, dataset=r['dataset'], model=r['model'], config=r['config'], epochs=r['epochs'], bs=r['bs'],
                             lr=r['lr'], one_cycle=r['one_cycle'], warmup_epochs=r['warmup_epochs'], binarize=r['binarize'],
                             device=a.device, seed=0, resume=True)
        ship(out/'model.pt', WEIGHTS/f'{name}.pt', name)
        model = load(WEIGHTS/f'{name}.pt', 'cpu')
        epochs_seconds = sum(h['seconds'] for h in load_checkpoint(out/'model.pt')['history'])  # all epochs, also when resumed
        card[name] = dict(command=f'vae_nbs_train --recipe {name} --out DIR', train_seconds=round(epochs_seconds),
                          hardware=f'{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}',
                          size_bytes=(WEIGHTS/f'{name}.pt').stat().st_size, quick=figures(name, model, 500), full=figures(name, model, None))
        atomic_write(card_path, lambda f: f.write(json.dumps(card, indent=2).encode()))
        print(name, json.dumps(card[name], indent=1), flush=True)

if __name__ == '__main__': main()
