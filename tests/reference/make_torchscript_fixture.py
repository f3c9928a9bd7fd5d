"""A tiny TorchScript archive for the converter's tests (tests/unit/fid_converter.cpp).

Writes tests/reference/tiny_torchscript.pt (a few KB) with Debian's python3-torch; never
needed by CI. The module mimics the FID-Inception archive's structure: a wrapper with a
child `net`, conv units holding weight/beta/mean/var parameters and an int `stride` and an
int or List[int] `padding` attribute, plus tensors that are views: one transposed (not
contiguous) and one at an offset inside a storage it shares with another tensor.

    /usr/bin/python3 tests/reference/make_torchscript_fixture.py

Values (the test checks them): unit.weight = arange(24).reshape(2, 3, 2, 2) / 8,
unit.beta = [0.5, -0.5], unit.mean = [1, 2], unit.var = [3, 4]; unit2 has padding [0, 1],
stride 2 and weight = arange(6).reshape(3, 2).t() (a transposed view, shape [2, 3]);
shared.tail = base[2:5] of base = arange(6) + 100 (offset 2 into a 6-element storage).
"""

import torch


class Unit(torch.nn.Module):
    def __init__(self, weight, stride, padding):
        super().__init__()
        self.weight = torch.nn.Parameter(weight, requires_grad=False)
        self.beta = torch.nn.Parameter(torch.tensor([0.5, -0.5]), requires_grad=False)
        self.mean = torch.nn.Parameter(torch.tensor([1.0, 2.0]), requires_grad=False)
        self.var = torch.nn.Parameter(torch.tensor([3.0, 4.0]), requires_grad=False)
        self.stride = stride
        self.padding = padding

    def forward(self, x):
        return x * self.beta.sum()


class Shared(torch.nn.Module):
    def __init__(self):
        super().__init__()
        base = torch.arange(6, dtype=torch.float32) + 100
        self.register_buffer("base", base)
        self.register_buffer("tail", base[2:5])

    def forward(self, x):
        return x + self.tail.sum()


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.unit = Unit(torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2) / 8, 1, 1)
        self.unit2 = Unit(torch.arange(6, dtype=torch.float32).reshape(3, 2).t(), 2, [0, 1])
        self.shared = Shared()

    def forward(self, x):
        return self.shared(self.unit2(self.unit(x)))


class Wrap(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = Net()

    def forward(self, x):
        return self.net(x)


if __name__ == "__main__":
    m = torch.jit.script(Wrap())
    assert not m.net.unit2.weight.is_contiguous()
    torch.jit.save(m, "tests/reference/tiny_torchscript.pt")
    print("wrote tests/reference/tiny_torchscript.pt")
