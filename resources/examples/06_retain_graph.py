# title: 两次反向传播与 retain_graph | Backward twice and retain_graph
# zh: 反向传播结束后，PyTorch 会释放计算图中保存的中间结果以节省内存。
# zh: 想对同一个图再做一次 backward，第一次要传 retain_graph=True；两次的梯度会累加。
# zh: 不保留计算图而再次反向传播，会抛出 RuntimeError。
# en: After backward() PyTorch frees the intermediate values the graph saved, to save memory.
# en: To run backward through the same graph again, pass retain_graph=True the first time;
# en: the two gradients add up. A second backward without it raises a RuntimeError.

import torch

x = torch.arange(4.0, requires_grad=True)
y = (x * x).sum()

y.backward(retain_graph=True)
print("x.grad =", x.grad)
y.backward()
print("x.grad =", x.grad)

# 这一次没有保留计算图：第二次 backward 会失败
x.grad.zero_()
z = (x * x).sum()
z.backward()
try:
    z.backward()
except RuntimeError as e:
    print("RuntimeError:", str(e).splitlines()[0])
print("x.grad =", x.grad)
