# Prints the oracle of TrainerTest.convolutionBatchNormsTrainOverExamplesAndPositionsAsPyTorch: conv 2x2 VALID (2
# channels, bias) -> batch norm in train() mode (momentum 0.1) -> relu -> global average pool -> dense(3), standard
# parameterisation, float64 (float32 with an argument), SGD momentum 0.9, weight decay 0.01, lr 0.2, 2 epochs in
# batches of 2 over 4 examples [4, 3, 3, 2] channels-last (transposed to NCHW here; the HWIO filter to OIHW) in
# Trainer.permutation(5, e, 4)'s order; the eval() loss on the 4 examples after each epoch.
import torch, math, torch.nn.functional as F, sys
dt = torch.float32 if len(sys.argv) > 1 else torch.float64
torch.set_default_dtype(dt)
def t(n, s, f, *shape): return torch.tensor([s*math.cos(f*i+0.3) for i in range(n)], dtype=torch.float64).to(dt).reshape(shape)
X = t(72, 1.5, 0.7, 4,3,3,2).permute(0,3,1,2)
Y = torch.tensor([0,2,1,2])
W = t(16, 0.4, 1.3, 2,2,2,2).permute(3,2,0,1).contiguous()
ps = [W, torch.tensor([0.05,-0.1]), torch.tensor([1.1,0.8]), torch.tensor([0.1,-0.2]), t(6,0.5,0.9,2,3), torch.tensor([0.0,0.1,-0.1])]
ps = [p.clone().requires_grad_(True) for p in ps]
rm = torch.tensor([0.1,-0.2]); rv = torch.tensor([1.2,0.7])
opt = torch.optim.SGD(ps, lr=0.2, momentum=0.9, weight_decay=0.01)
perms = [[2,0,1,3],[2,1,0,3]]
def f(x, train):
    h = F.conv2d(x, ps[0], ps[1])
    h = F.batch_norm(h, rm, rv, ps[2], ps[3], training=train, momentum=0.1, eps=1e-5)
    return torch.relu(h).mean((2,3)) @ ps[4] + ps[5]
for e in range(2):
    tot = 0
    for s in range(2):
        idx = perms[e][2*s:2*s+2]
        loss = F.cross_entropy(f(X[idx], True), Y[idx]) / 3
        opt.zero_grad(); loss.backward(); opt.step(); tot += loss.item()*2
    with torch.no_grad():
        print('epoch', e+1, 'train', tot/4, 'test', (F.cross_entropy(f(X, False), Y)/3).item())
print('conv w HWIO', ps[0].detach().permute(2,3,1,0).flatten().tolist())
for p in ps[1:]: print(p.detach().flatten().tolist())
print('rm', rm.tolist()); print('rv', rv.tolist())
