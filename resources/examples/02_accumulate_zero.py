# title: 梯度会累积，zero_() 清零 | Gradients accumulate; zero_() clears them
# zh: 默认情况下，PyTorch 会把新的梯度累加到 x.grad 上，而不是覆盖它。
# zh: 计算 x 的另一个函数之前，需要先用 x.grad.zero_() 清除之前的值。
# zh: 带下划线的函数（例如 zero_()）表示原地改写内容。
# en: By default PyTorch adds each new gradient to x.grad instead of replacing it.
# en: Before differentiating another function of x, clear the old value with x.grad.zero_().
# en: A trailing underscore (zero_()) marks an in-place operation.

import torch

x = torch.arange(4.0, requires_grad=True)
y = 2 * torch.dot(x, x)
y.backward()
print("x.grad =", x.grad)

# 不清零：y = x.sum() 的梯度 1 被加到旧的梯度上
y = x.sum()
y.backward()
print("x.grad =", x.grad)

# 先清零，再求 y = x.sum() 的梯度
x.grad.zero_()
y = x.sum()
y.backward()
print("x.grad =", x.grad)
