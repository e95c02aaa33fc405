"""The PyTorch 1.13 float64 oracle of TrainerTest's two PyTorch comparisons.

miniBatchesWithAPartialLastBatchAndSchedulesEqualPyTorch (the first two runs) and moreOptimizerSettingsEqualPyTorch
(A-D): f = x W + b, the 5 examples, the permutations of Trainer.permutation(5, e, 5) and the initial parameters of
fcn(depth=0,out=3,param=standard).init(3) that the tests assert; torch.optim.SGD/Adam with PyTorch's own StepLR
(stepped per epoch) and CosineAnnealingLR(T_max = epochs x steps, stepped per batch); ntk4j's losses, means over the
N x C entries: F.cross_entropy / C and 0.5 * mean((f - onehot)^2). Prints the final parameters (w row-major, then b)
and each epoch's train loss (the batch losses weighted by batch size). Run: /usr/bin/python3 torch_train_oracle.py
"""
import torch, torch.nn.functional as F, math
torch.set_default_dtype(torch.float64)
X = torch.tensor([0.5, -1.0, 2.0, 1.5, 0.25, -0.75, -2.0, 1.0, 0.3, 0.7]).reshape(5, 2)
L = torch.tensor([0, 2, 1, 2, 0])
PERMS = {1: [3, 4, 0, 2, 1], 2: [3, 2, 4, 0, 1], 3: [3, 1, 2, 4, 0], 4: [1, 2, 0, 4, 3]}
W0 = [0.3969690372531139, 0.3299144164868595, 0.40685290060002194, 0.26894969100793237, -0.2608037533882535,
      1.0537248833406707]

def run(opt_name, okw, loss, lr, sched, epochs, batch=2, w0=W0, b0=(-0.03424510230050446, -8.650290521098615E-4, -0.059255346245989236)):
    W = torch.tensor(w0).reshape(2, 3).clone().requires_grad_(True)
    b = torch.tensor(list(b0)).clone().requires_grad_(True)
    opt = (torch.optim.SGD if opt_name == 'sgd' else torch.optim.Adam)([W, b], lr=lr, **okw)
    spe = math.ceil(5 / batch)
    if sched[0] == 'step':
        sch = torch.optim.lr_scheduler.StepLR(opt, step_size=sched[1], gamma=sched[2])
    elif sched[0] == 'cosine':
        sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * spe)
    else:
        sch = None
    losses = []
    for e in range(1, epochs + 1):
        p = PERMS[e]
        s, c = 0.0, 0
        for k in range(0, 5, batch):
            idx = p[k:k + batch]
            x, y = X[idx], L[idx]
            f = x @ W + b
            if loss == 'ce':
                l = F.cross_entropy(f, y) / 3
            else:
                l = 0.5 * ((f - F.one_hot(y, 3).double()) ** 2).sum() / f.numel()
            opt.zero_grad(); l.backward(); opt.step()
            if sched[0] == 'cosine':
                sch.step()
            s += l.item() * len(idx); c += len(idx)
        if sched[0] == 'step':
            sch.step()
        losses.append(s / c)
    return W.detach().flatten().tolist() + b.detach().tolist(), losses



def show(tag, r):
    print(tag, "params", ", ".join(repr(v) for v in r[0]))
    print(tag, "losses", ", ".join(repr(v) for v in r[1]))


# miniBatchesWithAPartialLastBatchAndSchedulesEqualPyTorch
show("sgd", run('sgd', dict(momentum=0.9, weight_decay=0.01), 'ce', 0.5, ('step', 1, 0.5), 3))
show("adam", run('adam', dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05), 'mse', 0.1, ('cosine',), 3))
# moreOptimizerSettingsEqualPyTorch
show("A", run('sgd', dict(momentum=0, weight_decay=0.1), 'mse', 0.7, ('step', 2, 0.5), 4))
show("B", run('sgd', dict(momentum=0.9, weight_decay=0), 'ce', 0.5, ('cosine',), 4))
show("C", run('adam', dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01), 'ce', 0.05, ('step', 1, 0.7), 4))
show("D", run('adam', dict(betas=(0.5, 0.9), eps=0.1, weight_decay=0), 'mse', 0.2, ('constant',), 4, batch=3))
