# title: 非标量输出：先求和再反向传播 | A vector output: sum, then backward
# zh: y = x * x 是向量，backward() 需要一个标量。深度学习中我们要的是批量中
# zh: 每个样本偏导数之和，所以先用 sum() 把 y 变成标量再求导，
# zh: 得到的梯度是与 x 同形状的向量 2x，而不是矩阵。
# en: y = x * x is a vector, but backward() wants a scalar. In deep learning we want
# en: the sum of the per-sample partial derivatives, so y.sum().backward() gives a
# en: vector shaped like x (here 2x), not a Jacobian matrix.

import torch

x = torch.arange(4.0, requires_grad=True)

# 此处，y 是向量
y = x * x

# 等价于 y.backward(torch.ones(len(x)))
y.sum().backward()
print("x.grad =", x.grad)
print("x.grad == 2 * x:", x.grad == 2 * x)
