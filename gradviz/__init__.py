"""gradviz: see autograd. Run a small PyTorch program, draw its grad_fn graph, replay backward() step by step."""

__version__ = "0.1.0"
