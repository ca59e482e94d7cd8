"""Test log-likelihood of a VAE on dynamically binarised MNIST, within a time budget.

Trains a registered model (default `vae_pixel`, the convolutional VAE with a small autoregressive decoder;
`--model vae_conv` for the default convolutional VAE) with the vae_nbs Trainer on dynamically binarised MNIST
(a fresh Bernoulli draw of every training image each epoch). A short probe times a training step and a validation
pass; the run then takes as many epochs as fit in the budget, with a one-cycle learning-rate schedule over them.
Then it reports the test set's negative ELBO and its negative log-likelihood estimated with the importance-weighted
bound (IWAE, k samples), both in nats per image, with `vae_nbs.metrics.score` (the protocol of `vae_nbs_score`:
the 10,000 test digits binarised once with a fixed seed). The IWAE paper's one-layer VAE reports 86.76 nats.
Writes model.pt and results.json into --out, and the results with the per-epoch history into
nbs/images/nll_MODEL.json and a grid of samples into nbs/images/nll_MODEL_samples.png for the training chapter.

    VAE_NBS_DATA=/path/to/data python bench/nll_mnist.py --minutes 30 --k 100
    VAE_NBS_DATA=/path/to/data python bench/nll_mnist.py --minutes 30 --k 100 --model vae_conv
"""
import argparse, json, time
from pathlib import Path
import torch
from vae_nbs.data import mnist_loaders, show_images
from vae_nbs.autoencoder import build_model
from vae_nbs.train import Trainer, evaluate, save_checkpoint
from vae_nbs.metrics import score
from budget import epoch_seconds

IMAGES = Path(__file__).resolve().parent.parent/'nbs'/'images'

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--minutes', type=float, default=30, help='training time budget, probe included')
    p.add_argument('--model', default='vae_pixel', help='registered model name')
    p.add_argument('--latent', type=int, default=None, help="latent size (default: the model's)")
    p.add_argument('--bs', type=int, default=128)
    p.add_argument('--lr', type=float, default=2e-3, help='peak learning rate of the one-cycle schedule')
    p.add_argument('--warmup', type=float, default=2, help='KL warm-up epochs')
    p.add_argument('--k', type=int, default=100, help='importance samples per test image')
    p.add_argument('--device', default=None)
    p.add_argument('--out', default=None, help='folder for model.pt and results.json (default: bench/results/nll_MODEL)')
    args = p.parse_args()

    torch.manual_seed(0)
    start, budget = time.perf_counter(), args.minutes * 60
    dls = mnist_loaders('mnist', bs=args.bs, binarize=True, device=args.device)
    model = build_model(args.model, **({} if args.latent is None else dict(latent=args.latent)))
    learn = Trainer(model, dls, lr=args.lr, one_cycle=True, warmup_epochs=args.warmup, device=args.device, progress=False)
    per_epoch = epoch_seconds(learn, steps=20)
    epochs = max(1, int((budget - (time.perf_counter() - start)) / per_epoch))
    print(f"training {args.model} on {learn.device} ({torch.get_num_threads()} threads), "
          f"{sum(p.numel() for p in model.parameters()):,} parameters: about {per_epoch:.0f} s an epoch, "
          f"so {epochs} epochs in {args.minutes} min (one-cycle to lr {args.lr}, {args.warmup} epochs of KL warm-up)", flush=True)
    learn.fit(epochs)
    for h in learn.history: print(f"  epoch {h['epoch']:3d}  {h['seconds']:5.0f} s  valid -ELBO {h['valid_loss']:.2f}")
    train_minutes = (time.perf_counter() - start) / 60
    out = Path(args.out or f'bench/results/nll_{args.model}')
    save_checkpoint(out/'model.pt', learn.model, history=learn.history, epoch=learn.epoch)
    test = evaluate(learn.model, dls.test)
    t0 = time.perf_counter()
    scored = score(learn.model, 'mnist', k=args.k, show=False)
    nll = scored['nll']
    res = dict(epochs=learn.epoch, train_minutes=train_minutes, test_nelbo=scored['nelbo'], test_kl=test['kl'],
               test_nll_iwae=float(nll), k=args.k, iwae_minutes=(time.perf_counter() - t0) / 60, protocol=scored['protocol'],
               lr=args.lr, bs=args.bs, warmup=args.warmup, device=str(learn.device),
               threads=torch.get_num_threads(), config=learn.model.arch)
    (out/'results.json').write_text(json.dumps(res, indent=2))
    (IMAGES/f'nll_{args.model}.json').write_text(json.dumps(dict(res, history=learn.history), indent=1))
    torch.manual_seed(0)
    ax = show_images(learn.model.sample(48), nrow=16, title=f'{args.model} after {args.minutes:g} min: z ~ N(0, I), decoded')
    ax.figure.savefig(IMAGES/f'nll_{args.model}_samples.png', dpi=80, bbox_inches='tight')
    print(f"{learn.epoch} epochs in {train_minutes:.1f} min: test -ELBO {test['loss']:.2f}, "
          f"test NLL (IWAE, k={args.k}) {float(nll):.2f} nats/image")
