"""Does `vae_nbs_score` measure what it says? An independent importance-sampling estimate of the same model's test
negative log-likelihood, on the same protocol, compared with the command's answer.

The command is run as a user runs it (`vae_nbs_score --ckpt ... --json ...`). The independent estimate is written
here from `torch.distributions`, one image at a time, with its own random draws: it shares nothing with
`vae_nbs.metrics.score` but the binarised test images (`scoring_images`, the protocol) and the model's
encoder and decoder. The two must agree up to Monte Carlo noise.

    VAE_NBS_DATA=/path/to/data python bench/score_check.py                       # the shipped MNIST model, k=100
    VAE_NBS_DATA=/path/to/data python bench/score_check.py --ckpt runs/mnist/model.pt --k 1000 --n 2000
"""
import argparse, json, math, subprocess, tempfile, time
from pathlib import Path
import torch
from vae_nbs.train import load
from vae_nbs.metrics import scoring_images

@torch.no_grad()
def independent_nll(model, x, k:int, seed:int=123, bs:int=50)->float:
    "Mean -log p(x) over images `x` by importance sampling with q(z|x) as the proposal, from torch.distributions."
    g, total = torch.Generator().manual_seed(seed), 0.
    N01 = torch.distributions.Normal(0., 1.)
    for xb in x.split(bs):
        mu, logvar = model.encode(xb)
        q = torch.distributions.Normal(mu, (0.5*logvar).exp())
        z = q.mean + q.stddev*torch.randn(k, *mu.shape, generator=g)                         # [k, B, D]
        logits = model.decode(z.flatten(0, 1)).view(k, *xb.shape)
        log_px = torch.distributions.Bernoulli(logits=logits).log_prob(xb.expand(k, *xb.shape)).flatten(2).sum(2)
        logw = log_px + N01.log_prob(z).sum(2) - q.log_prob(z).sum(2)
        total -= (torch.logsumexp(logw.double(), 0) - math.log(k)).sum().item()
    return total/len(x)

def main(ckpt:str, k:int, n:int|None):
    with tempfile.TemporaryDirectory() as d:
        cmd = ['vae_nbs_score', '--ckpt', ckpt, '--k', str(k), '--json', f'{d}/s.json', '--device', 'cpu']
        if n: cmd += ['--n', str(n)]
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        ours = json.loads(Path(d, 's.json').read_text())
        ours_s = time.perf_counter() - start
    model = load(ckpt, 'cpu')
    start = time.perf_counter()
    ind = independent_nll(model, scoring_images('mnist', n=n), k)
    print(f"vae_nbs_score:        {ours['nll']:.3f} nats/image ({ours_s:.0f} s)")
    print(f"independent estimate: {ind:.3f} nats/image ({time.perf_counter() - start:.0f} s), same {ours['n']:,} images, k={k}")
    print(f"difference: {ours['nll'] - ind:+.3f} nats/image")

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--ckpt', default='pretrained:mnist', help='a VAE with a Bernoulli likelihood (default: pretrained:mnist)')
    p.add_argument('--k', type=int, default=100, help='importance samples per image for both estimates')
    p.add_argument('--n', type=int, default=None, help='a seeded random subset of N test images (default: all 10,000)')
    a = p.parse_args()
    main(a.ckpt, a.k, a.n)
