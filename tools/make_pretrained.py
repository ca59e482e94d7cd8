#!/usr/bin/env python
"""Make the pretrained models that ship inside the package, and record what each scores.

    python tools/make_pretrained.py                  # all of them: mnist, upscaler, cvae
    python tools/make_pretrained.py mnist --runs /tmp/pretrained
    python tools/make_pretrained.py upscaler --start vae_nbs/weights/upscaler.pt --epochs 6 --lr 5e-4  # fine-tune

Each model is trained by `run_training` with its recipe in `vae_nbs.train.PRETRAINED` (the same as
`vae_nbs_train --recipe NAME --out DIR`), then stored in half precision without the optimiser state in
vae_nbs/weights/NAME.pt, and scored: the figures go to vae_nbs/weights/pretrained.json, which
`pretrained_info(NAME)` reads and the tests check."""
import argparse, json, os, platform, time
from pathlib import Path
import torch
from vae_nbs.data import atomic_write, TensorLoader
from vae_nbs.train import PRETRAINED, Trainer, run_training, load, load_checkpoint, evaluate, dataset_loaders
from vae_nbs.metrics import score, random_subset
from vae_nbs.autoencoder import build_model
from vae_nbs.upscale import evaluate_upscalers, evaluate_downsamplings

WEIGHTS = Path(__file__).resolve().parent.parent/'vae_nbs'/'weights'

def ship(src:Path, dst:Path, name:str):
    "Copy checkpoint `src` to `dst` with half-precision weights and no optimiser state."
    ckpt = load_checkpoint(src)
    ckpt['model'] = {k: v.half() if v.is_floating_point() else v for k, v in ckpt['model'].items()}
    ckpt['optimizer'], ckpt['recipe'] = None, name
    atomic_write(dst, lambda f: torch.save(ckpt, f))

def figures(name:str, model, n:int|None)->dict:
    "What the shipped model scores: on `n` test images drawn at random with seed 0 (None: all of them)."
    if PRETRAINED[name]['model'] in ('vae_conv', 'vae_mlp'):
        r = score(model, PRETRAINED[name]['dataset'], k=50 if n else 100, n=n, show=False)
        return {k: r[k] for k in ('n', 'k', 'seed', 'nll', 'nelbo', 'bits_per_dim', 'protocol')}
    dls = dataset_loaders('mnist', model, bs=500, device='cpu')
    subset = dict(seed=0, subset='test images drawn at random with vae_nbs.metrics.random_subset(10000, n, seed)')
    idx = random_subset(dls.test.n, n, 0)
    test = TensorLoader(*(t[idx] for t in dls.test.tensors), bs=500, device='cpu') if n else dls.test
    if name == 'upscaler':
        r = evaluate_upscalers(test, {'upscaler': model})
        out = dict(n=n or dls.test.n, psnr=r['upscaler']['psnr'], ssim=r['upscaler']['ssim'], psnr_bicubic=r['bicubic']['psnr'])
        if n: out |= subset
        hi = test.tensors[1]
        return out | dict(downsamplings=evaluate_downsamplings(model, hi))
    torch.manual_seed(0)
    r = evaluate(model, test)
    note = 'negative ELBO of the grey-level test digits given their labels'
    return dict(n=n or dls.test.n, test_nelbo=r['loss'], note=note) | (subset if n else {})

def finetune(start, out:Path, r:dict, epochs:int, lr:float, device:str, config:dict|None=None):
    "Carry on training the weights in `start` with recipe `r`'s data and model settings (the model's current defaults)."
    ckpt = out/'model.pt'
    torch.manual_seed(0)
    if ckpt.exists(): model = load(ckpt, device)  # dataset_loaders only reads its shapes
    else:
        model = build_model(r['model'], **(r['config'] or {}), **(config or {}))  # today's defaults, e.g. the mix of downsamplings
        model.load_state_dict(load(start, device).state_dict())
    dls = dataset_loaders(r['dataset'], model, bs=r['bs'], binarize=r['binarize'], device=device)
    opts = dict(lr=lr, one_cycle=True, seed=0, meta=dict(dataset=r['dataset'], bs=r['bs'], binarize=r['binarize'], start=str(start)))
    if ckpt.exists(): learn = Trainer.resume(ckpt, dls, device=device, **opts)
    else: learn = Trainer(model, dls, device=device, ckpt_path=ckpt, **opts)
    learn.fit(epochs)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('names', nargs='*', default=list(PRETRAINED), help='which models (default: all)')
    ap.add_argument('--runs', default='/tmp/vae_nbs_pretrained', help='folder for the full training runs')
    ap.add_argument('--device', default='cpu', help='where to train (the shipped figures were made on a CPU)')
    ap.add_argument('--start', metavar='CKPT', help='fine-tune the weights in CKPT (one model name only) instead of training from scratch')
    ap.add_argument('--epochs', type=int, help='with --start: epochs of fine-tuning (default: the recipe\'s)')
    ap.add_argument('--downsamplings', nargs='+', metavar='HOW', help='with --start, for the upscaler: the ways of shrinking to '
                    'train on, drawn uniformly per image (repeat one to draw it more often); default: the model\'s')
    ap.add_argument('--lr', type=float, help='with --start: peak learning rate of the one-cycle fine-tuning (default: the recipe\'s)')
    a = ap.parse_args()
    card_path = WEIGHTS/'pretrained.json'
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    for name in a.names:
        r = PRETRAINED[name]
        out = Path(a.runs)/name
        command = f'vae_nbs_train --recipe {name} --out DIR'
        if a.start:
            if len(a.names) != 1: ap.error('--start fine-tunes one model: name it, e.g. `upscaler --start FILE`')
            epochs, lr = a.epochs or r['epochs'], a.lr or r['lr']
            config = dict(downsamplings=a.downsamplings) if a.downsamplings else {}
            finetune(a.start, out, r, epochs, lr, a.device, config)
            command = f'python tools/make_pretrained.py {name} --start START.pt --epochs {epochs} --lr {lr:g}'
            if a.downsamplings: command += ' --downsamplings ' + ' '.join(a.downsamplings)
        else:
            run_training(out, dataset=r['dataset'], model=r['model'], config=r['config'], epochs=r['epochs'], bs=r['bs'],
                         lr=r['lr'], one_cycle=r['one_cycle'], warmup_epochs=r['warmup_epochs'], binarize=r['binarize'],
                         device=a.device, seed=0, resume=True)
        ship(out/'model.pt', WEIGHTS/f'{name}.pt', name)
        model = load(WEIGHTS/f'{name}.pt', 'cpu')
        epochs_seconds = sum(h['seconds'] for h in load_checkpoint(out/'model.pt')['history'])  # all epochs, also when resumed
        if a.start: epochs_seconds += sum(h['seconds'] for h in load_checkpoint(a.start)['history'])  # and the start's
        before = card.get(name, {}).get('command')  # how the starting weights were made, when they were the shipped ones
        card[name] = dict(command=command, train_seconds=round(epochs_seconds),
                          hardware=f'{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}',
                          size_bytes=(WEIGHTS/f'{name}.pt').stat().st_size, quick=figures(name, model, 500), full=figures(name, model, None))
        if a.start: card[name]['start'] = before or str(a.start)
        atomic_write(card_path, lambda f: f.write(json.dumps(card, indent=2).encode()))
        print(name, json.dumps(card[name], indent=1), flush=True)

if __name__ == '__main__': main()
