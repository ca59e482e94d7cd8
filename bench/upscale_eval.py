"""Train seed 001's upscaler and the improved one with the project's Trainer, evaluate both and the interpolation
baselines on the full MNIST test set, and write the chapter's table and pictures.

    VAE_NBS_DATA=/path/to/data python bench/upscale_eval.py --runs /tmp/upscale_runs            # train, then evaluate
    VAE_NBS_DATA=/path/to/data python bench/upscale_eval.py --runs /tmp/upscale_runs --eval-only

Writes nbs/images/upscale_results.json, upscale_comparison.png and upscale_samples.png."""
import argparse, json, time
from pathlib import Path
import torch
from vae_nbs.autoencoder import build_model
from vae_nbs.train import Trainer, load
from vae_nbs.upscale import upscale_loaders, evaluate_upscalers, results_table, plot_upscale_comparison, plot_upscale_samples

IMAGES = Path(__file__).resolve().parent.parent/'nbs'/'images'
# name in the table -> (registered model, epochs, Trainer options)
RUNS = {'seed 001 upscaler (latent 2)': ('seed001_upscaler', 3, dict(lr=1e-3)),
        'improved upscaler (conditional, latent 16)': ('upscaler', 5, dict(lr=2e-3, warmup_epochs=1))}

def main(runs:str='/tmp/upscale_runs', # folder for the checkpoints
         eval_only:bool=False, # evaluate existing checkpoints without training
         device:str='cpu', # where to train and evaluate
        ):
    "Train (unless `eval_only`) and evaluate the upscalers; write the results JSON and figures."
    runs = Path(runs)
    dls = upscale_loaders(device=device)
    train_seconds = {}
    for label, (name, epochs, opts) in RUNS.items():
        ckpt = runs/name/'model.pt'
        if eval_only: continue
        torch.manual_seed(0)
        if ckpt.exists(): learn = Trainer.resume(ckpt, dls, device=device, progress=False)  # carry on after a stop
        else: learn = Trainer(build_model(name), dls, device=device, ckpt_path=ckpt, seed=0, progress=False, **opts)
        start = time.perf_counter()
        learn.fit(epochs)
        train_seconds[label] = time.perf_counter() - start
        print(f"{label}: {epochs} epochs in {train_seconds[label]:.0f} s; valid -ELBO {learn.history[-1]['valid_loss']:.1f} nats/image", flush=True)
    models = {label: load(runs/name/'model.pt', device) for label, (name, _, _) in RUNS.items()}
    start = time.perf_counter()
    results = evaluate_upscalers(dls.test, models)
    eval_seconds = time.perf_counter() - start
    print(results_table(results))
    kl = {label: m_hist['valid_kl'] for label, (name, _, _) in RUNS.items()
          for m_hist in [torch.load(runs/name/'model.pt', weights_only=True)['history'][-1]]}
    info = dict(results=results, n_test=dls.test.n, train_seconds=train_seconds, eval_seconds=eval_seconds, valid_kl=kl,
                runs={label: dict(model=name, epochs=epochs, **opts) for label, (name, epochs, opts) in RUNS.items()},
                hardware='2-core CPU (shared)', command='python bench/upscale_eval.py')
    IMAGES.mkdir(exist_ok=True)
    (IMAGES/'upscale_results.json').write_text(json.dumps(info, indent=2))
    lo, hi = next(iter(dls.test))
    plot_upscale_comparison(models, lo, hi, n=10, path=IMAGES/'upscale_comparison.png')
    torch.manual_seed(0)
    plot_upscale_samples(models[list(RUNS)[-1]], lo, n_samples=6, n=6, path=IMAGES/'upscale_samples.png')
    print(f"evaluation {eval_seconds:.0f} s; wrote {IMAGES}/upscale_*")

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--runs', default='/tmp/upscale_runs', help='folder for the checkpoints')
    p.add_argument('--eval-only', '--eval_only', action='store_true', help='evaluate existing checkpoints without training')
    p.add_argument('--device', default='cpu', help='where to train and evaluate')
    a = p.parse_args()
    main(a.runs, a.eval_only, a.device)
