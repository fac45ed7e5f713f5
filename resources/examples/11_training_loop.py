# title: 训练循环：拟合多项式 | A training loop: fitting a polynomial
# zh: 把一步训练重复多次就是训练循环。这里用 y_hat = w₁x + w₂x² + b 拟合 y = 1 + 2x - 3x²，
# zh: 每 10 步打印一次损失，可以看到损失逐渐下降。
# zh: 参数更新放在 torch.no_grad() 中，更新后立刻清零梯度，否则梯度会跨步累积。
# en: Repeating the training step is a training loop: y_hat = w₁x + w₂x² + b fits y = 1 + 2x - 3x²,
# en: and the loss, printed every 10 steps, goes down.
# en: The update runs under torch.no_grad() and clears the gradient, or it would accumulate across steps.

import torch


def sgd(params, lr):
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad
            param.grad.zero_()


x = torch.linspace(-1.0, 1.0, 21)
y = 1 + 2 * x - 3 * x ** 2
features = torch.stack([x, x ** 2], dim=1)

w = torch.zeros(2, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
params = [w, b]

for step in range(1, 51):
    y_hat = features @ w + b
    loss = ((y_hat - y) ** 2).mean()
    loss.backward()
    sgd(params, lr=0.5)
    if step % 10 == 0:
        print(f"step {step:2d}  loss {loss.item():.4f}")

print("w =", w.detach(), "b =", b.detach())
