# title: 自定义 autograd.Function | A custom autograd.Function
# zh: 继承 torch.autograd.Function，自己写 forward 和 backward。
# zh: forward 用 ctx.save_for_backward 保存反向传播要用的张量；
# zh: backward 收到输出的梯度，返回输入的梯度。exp 的导数就是它自己。
# en: Subclass torch.autograd.Function and write forward and backward yourself.
# en: forward keeps what backward needs with ctx.save_for_backward;
# en: backward receives the output's gradient and returns the input's. exp is its own derivative.

import torch


class MyExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        result = x.exp()
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad_output):
        (result,) = ctx.saved_tensors
        return grad_output * result


x = torch.tensor([-1.0, 0.0, 1.0, 2.0], requires_grad=True)
y = MyExp.apply(x)
y.sum().backward()
my_grad = x.grad.clone()
print("MyExp grad =", my_grad)

# 与内置的 torch.exp 对比
x.grad.zero_()
torch.exp(x).sum().backward()
print("torch.exp grad =", x.grad)
print("same:", torch.allclose(my_grad, x.grad))
