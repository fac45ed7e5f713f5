# title: 一步训练：线性模型 + 均方误差 + SGD | One training step: linear model, MSE, SGD
# zh: 训练的一步就是：清零梯度 zero_grad()，前向计算损失，loss.backward() 求梯度，
# zh: optimizer.step() 沿负梯度方向更新参数。
# zh: 参数 net[0].weight 和 net[0].bias 是计算图的叶子，梯度存放在它们的 .grad 中。
# en: One step of training: zero_grad(), compute the loss, loss.backward() for the gradients,
# en: optimizer.step() to move the parameters against the gradient.
# en: The parameters net[0].weight and net[0].bias are the graph's leaves; .grad holds their gradients.

import torch
from torch import nn

torch.manual_seed(0)
X = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.0], [-2.0, 1.0]])
true_w = torch.tensor([2.0, -3.4])
y = X @ true_w + 4.2

net = nn.Sequential(nn.Linear(2, 1))
loss_fn = nn.MSELoss()
optimizer = torch.optim.SGD(net.parameters(), lr=0.03)

optimizer.zero_grad()
loss = loss_fn(net(X).squeeze(1), y)
loss.backward()
print("loss =", loss.item())
print("weight.grad =", net[0].weight.grad)
print("bias.grad =", net[0].bias.grad)

optimizer.step()
with torch.no_grad():
    print("loss after step =", loss_fn(net(X).squeeze(1), y).item())
