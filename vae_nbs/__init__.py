__version__ = "0.1.0"

# `vae_nbs.load` and `vae_nbs.pretrained` are imported on first use, so that `import vae_nbs` (and every command's
# --help) stays fast: torch itself takes a second or more to import.
def __getattr__(name):
    if name in ('load', 'pretrained'):
        from . import train
        return getattr(train, name)
    raise AttributeError(f"module 'vae_nbs' has no attribute {name!r}")
