"""Training speed on MNIST: the vae_nbs trainer against the pytorch/examples VAE loop, in one run.

The reference setting (pytorch/examples `vae/main.py`): an MLP VAE 784-400-20, per-image summed BCE + KL,
Adam 1e-3, batch 128, 10 epochs, data from torchvision `MNIST(transform=ToTensor())` through a `DataLoader`.
Both runs train that same model on all 60,000 training images and evaluate on the 10,000 test images after
every epoch (the epoch times include that evaluation for both). Then vae_nbs, with its own best settings,
trains until its test loss reaches the reference's final test loss, measured in the same run.
Times are medians of the epochs, so an epoch stalled by other work on the machine does not skew the ratios.

    VAE_NBS_DATA=../shared/data python bench/train_mnist.py
"""
import argparse, statistics, time
import torch, torch.nn as nn, torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms
from vae_nbs.data import load_mnist, get_data_root, TensorLoader, DataLoaders
from vae_nbs.autoencoder import build_model
from vae_nbs.train import Trainer

class ReferenceVAE(nn.Module):
    "The pytorch/examples VAE, as written there."
    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)
    def forward(self, x):
        h = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar

def reference_loss(x, recon, mu, logvar):
    "Summed BCE + KL over the batch, as in pytorch/examples."
    bce = F.binary_cross_entropy(recon, x.view(-1, 784), reduction='sum')
    return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

def reference_run(root, epochs, bs):
    "The baseline loop; per-epoch (seconds, test loss in nats per image)."
    torch.manual_seed(1)
    tfm = transforms.ToTensor()
    train = DataLoader(datasets.MNIST(root, train=True, download=True, transform=tfm), batch_size=bs, shuffle=True)
    test = DataLoader(datasets.MNIST(root, train=False, transform=tfm), batch_size=bs)
    model = ReferenceVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    out = []
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        for x, _ in train:
            opt.zero_grad()
            loss = reference_loss(x, *model(x))
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad(): total = sum(reference_loss(x, *model(x)).item() for x, _ in test)
        out.append((time.perf_counter() - start, total / len(test.dataset)))
        print(f"  reference epoch {epoch+1:2d}: {out[-1][0]:6.2f} s   test loss {out[-1][1]:7.2f}", flush=True)
    return out

def vae_nbs_run(root, epochs, bs, lr=1e-3, one_cycle=False, widths=(400,), latent=20, name='vae_nbs'):
    "The vae_nbs trainer on all 60,000 images, evaluated on the test set; per-epoch (seconds, test loss)."
    torch.manual_seed(1)
    (x, y), (xt, yt) = load_mnist('mnist', True, root), load_mnist('mnist', False, root)
    dls = DataLoaders(TensorLoader(x, y, bs=bs, shuffle=True, device='cpu'), TensorLoader(xt, yt, bs=1000, device='cpu'))
    learn = Trainer(build_model('vae_mlp', widths=widths, latent=latent), dls, lr=lr, one_cycle=one_cycle,
                    device='cpu', progress=False)
    learn.fit(epochs)
    out = [(h['seconds'], h['valid_loss']) for h in learn.history]
    for i, (s, l) in enumerate(out): print(f"  {name:9} epoch {i+1:2d}: {s:6.2f} s   test loss {l:7.2f}", flush=True)
    return out

def median_epoch(results): return statistics.median(s for s, _ in results)

def epochs_to(results, target):
    "Epochs until the test loss first reaches `target` (None if it never does)."
    return next((i + 1 for i, (_, loss) in enumerate(results) if loss <= target), None)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--best-epochs', '--best_epochs', type=int, default=8, help='epochs of the one-cycle run with vae_nbs best settings')
    p.add_argument('--best-bs', '--best_bs', type=int, default=256)
    p.add_argument('--best-lr', '--best_lr', type=float, default=6e-3)
    args = p.parse_args()
    root = get_data_root()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, data {root}")
    print("reference: pytorch/examples loop, DataLoader(ToTensor()), batch 128")
    ref = reference_run(root, args.epochs, 128)
    print("vae_nbs: Trainer + TensorLoader, same model and settings")
    ours = vae_nbs_run(root, args.epochs, 128)
    ref_epoch, our_epoch = median_epoch(ref), median_epoch(ours)
    print(f"median seconds per epoch: reference {ref_epoch:.2f}, vae_nbs {our_epoch:.2f}")
    print(f"final test loss: reference {ref[-1][1]:.2f}, vae_nbs {ours[-1][1]:.2f} nats/image")
    print(f"epoch speedup: {ref_epoch / our_epoch:.1f}x")
    print(f"vae_nbs best settings: one-cycle, lr {args.best_lr}, batch {args.best_bs}, {args.best_epochs} epochs")
    best = vae_nbs_run(root, args.best_epochs, args.best_bs, lr=args.best_lr, one_cycle=True, name='best')
    target = ref[-1][1]  # the reference's final test loss, from this run
    ref_total, n = ref_epoch * len(ref), epochs_to(best, target)
    if n is None: print(f"time-to-{target:.1f}: not reached in {args.best_epochs} epochs (best {min(l for _, l in best):.2f})")
    else:
        reached = n * median_epoch(best)
        print(f"time-to-{target:.1f}: {100 * reached / ref_total:.1f}% of baseline ({n} epochs, {reached:.1f} s vs "
              f"{ref_total:.1f} s for {len(ref)} reference epochs, median epoch times)")
