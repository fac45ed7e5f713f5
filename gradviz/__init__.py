"""gradviz: see autograd. Run a small PyTorch program, draw its grad_fn graph and replay backward()."""

__version__ = "0.1.0"
