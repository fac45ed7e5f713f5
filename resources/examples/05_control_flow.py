# title: Python 控制流的梯度计算 | Gradients through Python control flow
# zh: 即使计算图要经过 Python 控制流（条件、循环或任意函数调用），仍然可以求梯度。
# zh: autograd 只记录实际执行了的运算：f(a) 总是 a 乘以某个常数 k，
# zh: 所以 d = k·a，梯度 a.grad == d / a。
# en: Even when the graph is built through Python control flow (if, while, function calls),
# en: we can still differentiate: autograd records only the operations that actually ran.
# en: f(a) is always a times some constant k, so d = k·a and a.grad == d / a.

import torch


def f(a):
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


# 固定随机种子，结果可复现（换成 torch.manual_seed(4) 会走 else 分支）
torch.manual_seed(0)
# 不指定 size，则表示标量
a = torch.randn(size=(), requires_grad=True)
d = f(a)
d.backward()

print("a =", a)
print("d =", d)
print("a.grad =", a.grad)
print("a.grad == d / a:", a.grad == d / a)
