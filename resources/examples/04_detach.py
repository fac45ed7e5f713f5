# title: 用 detach() 分离计算 | Moving a computation out of the graph with detach()
# zh: u = y.detach() 返回一个从计算图中分离的新张量，与 y 共享内存，但 requires_grad 为 False。
# zh: z = u * x 反向传播时在 u 处停止，所以 x.grad 等于 u，而不是 3x²。
# zh: y 自己的计算图仍然完整：y.sum().backward() 依然得到 2x。
# en: u = y.detach() is a new tensor cut off from the graph: same memory as y, requires_grad False.
# en: Backward through z = u * x stops at u, so x.grad equals u, not 3x².
# en: y's own graph is untouched: y.sum().backward() still gives 2x.

import torch

x = torch.arange(4.0, requires_grad=True)
y = x * x

u = y.detach()
z = u * x

z.sum().backward()
print("x.grad =", x.grad)
print("x.grad == u:", x.grad == u)

x.grad.zero_()
y.sum().backward()
print("x.grad =", x.grad)
print("x.grad == 2 * x:", x.grad == 2 * x)
