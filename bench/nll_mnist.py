"""Test log-likelihood of the default convolutional VAE on dynamically binarised MNIST, within a time budget.

Trains `vae_conv` with the vae_nbs Trainer on dynamically binarised MNIST (a fresh Bernoulli draw of every
training image each epoch) until the time budget is spent, then reports the test set's negative ELBO and its
negative log-likelihood estimated with the importance-weighted bound (IWAE, k samples), both in nats per image.
The IWAE paper's one-layer VAE reports 86.76 nats.

    VAE_NBS_DATA=../shared/data python bench/nll_mnist.py --minutes 30
"""
import argparse, json, time
from pathlib import Path
import torch
from vae_nbs.data import mnist_loaders
from vae_nbs.autoencoder import build_model
from vae_nbs.train import Trainer, evaluate, save_checkpoint
from vae_nbs.vae import iwae_nll

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--minutes', type=float, default=30, help='training time budget')
    p.add_argument('--latent', type=int, default=None, help="latent size (default: the model's)")
    p.add_argument('--bs', type=int, default=128)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--warmup', type=float, default=2, help='KL warm-up epochs')
    p.add_argument('--k', type=int, default=1000, help='importance samples per test image')
    p.add_argument('--device', default=None)
    p.add_argument('--out', default='bench/results/nll_mnist', help='folder for model.pt and results.json')
    args = p.parse_args()

    torch.manual_seed(0)
    dls = mnist_loaders('mnist', bs=args.bs, binarize=True, device=args.device)
    model = build_model('vae_conv', **({} if args.latent is None else dict(latent=args.latent)))
    learn = Trainer(model, dls, lr=args.lr, warmup_epochs=args.warmup, device=args.device, progress=False)
    print(f"training vae_conv for {args.minutes} min on {learn.device} ({torch.get_num_threads()} threads); "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")
    start, budget = time.perf_counter(), args.minutes * 60
    while True:
        learn.fit(learn.epoch + 1)
        h, elapsed = learn.history[-1], time.perf_counter() - start
        print(f"  epoch {h['epoch']:3d}  {elapsed/60:5.1f} min  valid -ELBO {h['valid_loss']:.2f}", flush=True)
        if elapsed + h['seconds'] > budget: break
    train_minutes = (time.perf_counter() - start) / 60
    out = Path(args.out); save_checkpoint(out/'model.pt', learn.model, history=learn.history, epoch=learn.epoch)
    test = evaluate(learn.model, dls.test)
    t0 = time.perf_counter()
    nll = iwae_nll(learn.model, dls.test, k=args.k)
    res = dict(epochs=learn.epoch, train_minutes=train_minutes, test_nelbo=test['loss'], test_kl=test['kl'],
               test_nll_iwae=float(nll), k=args.k, iwae_minutes=(time.perf_counter() - t0) / 60,
               device=str(learn.device), threads=torch.get_num_threads(), config=learn.model.arch)
    (out/'results.json').write_text(json.dumps(res, indent=2))
    print(f"{learn.epoch} epochs in {train_minutes:.1f} min: test -ELBO {test['loss']:.2f}, "
          f"test NLL (IWAE, k={args.k}) {float(nll):.2f} nats/image")
