# title: torch.no_grad() 不记录计算图 | torch.no_grad() records no graph
# zh: 在 with torch.no_grad(): 中计算的结果不带 grad_fn，像常数一样参与后面的计算，
# zh: 梯度不会从它流回 x。更新参数时也要放在 no_grad 中：
# zh: 更新本身不应成为计算图的一部分，而 w 仍然是叶子节点。
# en: A result computed inside `with torch.no_grad():` has no grad_fn; later computations
# en: treat it as a constant, so no gradient flows back through it. Parameter updates go
# en: under no_grad too: the update is not part of the graph, and w stays a leaf.

import torch

x = torch.arange(4.0, requires_grad=True)
with torch.no_grad():
    scale = x.max()
print("scale =", scale, "requires_grad:", scale.requires_grad)

y = (scale * x).sum()
y.backward()
# 只有 x 这一路有梯度：x.grad 全部等于 scale
print("x.grad =", x.grad)

w = torch.tensor([1.0, -2.0], requires_grad=True)
loss = (w ** 2).sum()
loss.backward()
print("w.grad =", w.grad)

lr = 0.1
with torch.no_grad():
    w -= lr * w.grad
w.grad.zero_()
print("w =", w, "is_leaf:", w.is_leaf)
