# title: 二阶导数：create_graph=True | Second derivatives with create_graph=True
# zh: torch.autograd.grad 直接返回梯度，不写入 x.grad。
# zh: 传入 create_graph=True 时，求导过程本身也会被记录成计算图，
# zh: 于是可以对一阶导数 dy/dx = 3x² 再求导，得到二阶导数 6x。
# en: torch.autograd.grad returns the gradient instead of writing it into x.grad.
# en: With create_graph=True the differentiation itself is recorded as a graph,
# en: so the first derivative dy/dx = 3x² can be differentiated again: 6x.

import torch

x = torch.tensor(3.0, requires_grad=True)
y = x ** 3
print("x =", x)

(dy,) = torch.autograd.grad(y, x, create_graph=True)
print("dy/dx =", dy)
print("dy/dx == 3 * x**2:", dy == 3 * x ** 2)

(d2y,) = torch.autograd.grad(dy, x)
print("d2y/dx2 =", d2y)
print("d2y/dx2 == 6 * x:", d2y == 6 * x)
print("x.grad =", x.grad)
