"""Train the MNIST upscaler write-up's model with the project's Trainer, then evaluate it, the shipped upscaler
(`pretrained('upscaler')`) and the interpolation baselines on the full MNIST test set, and write the upscaling
chapter's tables and pictures. The shipped upscaler is also scored on 8x8 inputs made each of the four ways of
`DOWNSAMPLINGS` (one row per way, bicubic interpolation beside it), and so is any checkpoint given with --compare.

    python bench/upscale_eval.py --runs /tmp/upscale_runs              # train (about 4 minutes on a CPU), evaluate
    python bench/upscale_eval.py --runs /tmp/upscale_runs --eval-only  # evaluate an existing checkpoint
    python bench/upscale_eval.py --shipped-only --compare old.pt       # re-score the shipped upscaler only

Set VAE_NBS_DATA to the data folder when MNIST is not in ~/.cache/vae_nbs. Writes
nbs/images/upscale_results.json, nbs/images/upscale_comparison.png and nbs/images/upscale_ways.png."""
import argparse, json, platform, time
from pathlib import Path
import torch
from vae_nbs.autoencoder import build_model
from vae_nbs.train import Trainer, load, load_checkpoint, pretrained, pretrained_path
from vae_nbs.upscale import (upscale_loaders, evaluate_upscalers, evaluate_downsamplings, downsampling_table,
                             results_table, plot_upscale_comparison, plot_downsamplings)

IMAGES = Path(__file__).resolve().parent.parent/'nbs'/'images'
WRITEUP = "write-up's upscaler (2-D code)"
SHIPPED = 'shipped upscaler (conditional, 16-D code)'
# the write-up's model, trained here: registered model, epochs, Trainer options
RUN = ('upscaler_small', 3, dict(lr=1e-3))

def per_way(models:dict, # name -> upscaler
            hi, # the test originals, uint8 [N, 1, 28, 28]
           )->dict: # how -> {name: dict(psnr, ssim), 'bicubic': dict(psnr, ssim)}
    "Each model and bicubic interpolation on the test digits shrunk each way."
    out = {}
    for k, m in models.items():
        for how, r in evaluate_downsamplings(m, hi).items():
            out.setdefault(how, {'bicubic': r['bicubic']})[k] = r['model']
    return {how: {k: r[k] for k in [*models, 'bicubic']} for how, r in out.items()}

def main(runs:str='/tmp/upscale_runs', # folder for the checkpoint
         eval_only:bool=False, # evaluate an existing checkpoint without training
         device:str='cpu', # where to train and evaluate
         shipped_only:bool=False, # keep the stored figures of the write-up's model; re-score the shipped upscaler
         compare:str|None=None, # another upscaler checkpoint to score on each way of shrinking, e.g. the lowres-only one
         compare_name:str='trained on lowres only', # its name in the table
        ):
    "Train the write-up's upscaler (unless `eval_only`), evaluate it with the shipped one; write the JSON and figures."
    dls = upscale_loaders(device=device)
    shipped = pretrained('upscaler', device)
    shipped_kl = load_checkpoint(pretrained_path('upscaler'))['history'][-1]['valid_kl']
    threads = torch.get_num_threads()
    hardware = f"{platform.machine()} CPU, {threads} thread{'s' * (threads != 1)}, torch {torch.__version__}"
    if shipped_only:
        info = json.loads((IMAGES/'upscale_results.json').read_text())
        info['runs'][WRITEUP]['model'] = RUN[0]  # its registered name
    else:
        name, epochs, opts = RUN
        ckpt = Path(runs)/name/'model.pt'
        if not eval_only:
            torch.manual_seed(0)
            if ckpt.exists(): learn = Trainer.resume(ckpt, dls, device=device, progress=False)  # carry on after a stop
            else: learn = Trainer(build_model(name), dls, device=device, ckpt_path=ckpt, seed=0, progress=False, **opts)
            learn.fit(epochs)
        history = load_checkpoint(ckpt)['history']
        train_seconds = sum(h['seconds'] for h in history)  # all epochs, also when resumed
        print(f"{WRITEUP}: {len(history)} epochs in {train_seconds:.0f} s", flush=True)
        models = {WRITEUP: load(ckpt, device), SHIPPED: shipped}
        start = time.perf_counter()
        results = evaluate_upscalers(dls.test, models)
        eval_seconds = time.perf_counter() - start
        info = dict(results=results, n_test=dls.test.n, train_seconds=train_seconds, eval_seconds=eval_seconds,
                    valid_kl={WRITEUP: history[-1]['valid_kl']},
                    runs={WRITEUP: dict(model=name, epochs=epochs, **opts), SHIPPED: dict(model='upscaler', pretrained='upscaler')},
                    hardware=hardware, command='python bench/upscale_eval.py')
        lo, hi = next(iter(dls.test))
        plot_upscale_comparison(models, lo, hi, n=10, path=IMAGES/'upscale_comparison.png')
    ways_models = {SHIPPED: shipped} | ({compare_name: load(compare, device)} if compare else {})
    start = time.perf_counter()
    ways = per_way(ways_models, dls.test.tensors[1])
    info['results'][SHIPPED] = ways['lowres'][SHIPPED]  # the same test digits, made by lowres as in the main table
    info['valid_kl'][SHIPPED] = shipped_kl
    info |= dict(downsamplings=ways, downsamplings_seconds=time.perf_counter() - start, downsamplings_hardware=hardware,
                 downsamplings_command='python bench/upscale_eval.py --shipped-only' + (' --compare CKPT' if compare else ''))
    print(results_table(info['results']))
    print(downsampling_table(ways))
    IMAGES.mkdir(exist_ok=True)
    (IMAGES/'upscale_results.json').write_text(json.dumps(info, indent=2))
    torch.manual_seed(0)
    plot_downsamplings(shipped, dls.test.tensors[1][:2], n=2, path=IMAGES/'upscale_ways.png')
    print(f"wrote {IMAGES}/upscale_results.json and the pictures")

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--runs', default='/tmp/upscale_runs', help='folder for the checkpoint')
    p.add_argument('--eval-only', '--eval_only', action='store_true', help='evaluate an existing checkpoint without training')
    p.add_argument('--device', default='cpu', help='where to train and evaluate')
    p.add_argument('--shipped-only', action='store_true', help="keep the write-up model's stored figures; re-score the shipped upscaler")
    p.add_argument('--compare', metavar='CKPT', help='another upscaler checkpoint to score on each way of shrinking')
    p.add_argument('--compare-name', default='trained on lowres only', help='its name in the table')
    a = p.parse_args()
    main(a.runs, a.eval_only, a.device, a.shipped_only, a.compare, a.compare_name)
