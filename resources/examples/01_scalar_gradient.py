# title: 标量对向量求导 | Gradient of a scalar w.r.t. a vector
# zh: 对 y = 2xᵀx 关于列向量 x 求导。先用 requires_grad_(True) 让 x 记录梯度，
# zh: 计算标量 y，再调用 y.backward()，梯度存放在 x.grad 中。
# zh: 注意：标量对向量求导，结果为向量！解析解是 4x。
# en: Differentiate y = 2xᵀx with respect to the column vector x. requires_grad_(True)
# en: makes x record gradients; y.backward() fills x.grad.
# en: A scalar differentiated w.r.t. a vector gives a vector: here 4x.

import torch

x = torch.arange(4.0)
print("x =", x)

# 等价于 x = torch.arange(4.0, requires_grad=True)
x.requires_grad_(True)
# x.grad 存储了 x 的梯度，反向传播之前是 None
print("x.grad =", x.grad)

# 此处，y 是标量
y = 2 * torch.dot(x, x)
print("y =", y)

y.backward()
print("x.grad =", x.grad)
print("x.grad == 4 * x:", x.grad == 4 * x)
